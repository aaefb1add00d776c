#include "api/browser/html.h"

#include <boost/beast/http/field.hpp>

namespace portcullis::api::browser {

namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kCss = R"(*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
main{max-width:24rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 .25rem}
p.sub{margin:0 0 1.5rem;color:#4b5563}
img.logo{display:block;max-height:3rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=password]{width:100%;padding:.6rem .75rem;font:inherit;border:1px solid #9ca3af;border-radius:.375rem}
input:focus,button:focus{outline:3px solid #2563eb;outline-offset:2px}
button{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:.375rem;cursor:pointer}
button:hover{background:#1e40af}
.error{margin:0 0 1rem;padding:.75rem;border-radius:.375rem;background:#fef2f2;color:#991b1b;border:1px solid #fecaca}
.hint{font-size:.875rem;color:#4b5563}
)";

void Head(std::string& out, const config::UiConfig& ui, std::string_view title) {
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta name=\"referrer\" content=\"no-referrer\"><title>";
  out += HtmlEscape(title);
  out += " · ";
  out += HtmlEscape(ui.product_name);
  out += "</title><link rel=\"stylesheet\" href=\"/assets/portcullis.css\"></head>\n<body><main>";
  if (!ui.logo_url.empty()) {
    out += "<img class=\"logo\" src=\"";
    out += HtmlEscape(ui.logo_url);
    out += "\" alt=\"";
    out += HtmlEscape(ui.product_name);
    out += "\">";
  }
}

}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderLoginPage(const config::UiConfig& ui, const LoginPage& page) {
  std::string out;
  Head(out, ui, page.totp_step ? "Two-step verification" : "Sign in");
  out += "<h1>";
  out += page.totp_step ? "Two-step verification" : "Sign in";
  out += "</h1><p class=\"sub\">";
  if (page.totp_step) {
    out += "Enter the 6-digit code from your authenticator app, or a recovery code.";
  } else {
    out += "to continue to ";
    out += HtmlEscape(page.client_name);
  }
  out += "</p>";
  if (!page.error.empty()) {
    out += "<p class=\"error\" role=\"alert\" id=\"error\">";
    out += HtmlEscape(page.error);
    out += "</p>";
  }
  out += "<form method=\"post\" action=\"/oauth2/authorize\">";
  auto hidden = [&out](std::string_view name, std::string_view value) {
    out += "<input type=\"hidden\" name=\"";
    out += HtmlEscape(name);
    out += "\" value=\"";
    out += HtmlEscape(value);
    out += "\">";
  };
  hidden("csrf_token", page.csrf_token);
  for (const auto& [name, value] : page.hidden) hidden(name, value);
  const std::string described = page.error.empty() ? "" : " aria-describedby=\"error\"";
  if (page.totp_step) {
    hidden("mfa_ticket", page.mfa_ticket);
    out +=
        "<label for=\"code\">Verification code</label><input type=\"text\" id=\"code\" "
        "name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required "
        "autofocus maxlength=\"32\"" +
        described + ">";
    out += "<button type=\"submit\">Verify</button>";
  } else {
    out +=
        "<label for=\"username\">Username</label><input type=\"text\" id=\"username\" "
        "name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" "
        "spellcheck=\"false\" required maxlength=\"256\" value=\"";
    out += HtmlEscape(page.username);
    out += "\"";
    out += page.username.empty() ? " autofocus" : "";
    out += described + ">";
    out +=
        "<label for=\"password\">Password</label><input type=\"password\" id=\"password\" "
        "name=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\"";
    out += page.username.empty() ? "" : " autofocus";
    out += described + ">";
    out += "<button type=\"submit\">Sign in</button>";
  }
  out += "</form></main></body></html>\n";
  return out;
}

std::string RenderMessagePage(const config::UiConfig& ui, std::string_view title,
                              std::string_view message) {
  std::string out;
  Head(out, ui, title);
  out += "<h1>";
  out += HtmlEscape(title);
  out += "</h1><p>";
  out += HtmlEscape(message);
  out += "</p></main></body></html>\n";
  return out;
}

http::Response HtmlResponse(bhttp::status status, std::string body,
                            std::string_view form_action_origin) {
  http::Response res{status, 11};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  std::string csp =
      "default-src 'none'; style-src 'self'; img-src 'self' https:; base-uri 'none'; "
      "frame-ancestors 'none'; form-action 'self'";
  if (!form_action_origin.empty()) {
    csp += ' ';
    csp += form_action_origin;
  }
  res.set("Content-Security-Policy", csp);
  res.set("X-Frame-Options", "DENY");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set(bhttp::field::cache_control, "no-store");
  res.set(bhttp::field::pragma, "no-cache");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string_view Stylesheet() { return kCss; }

}  // namespace portcullis::api::browser
