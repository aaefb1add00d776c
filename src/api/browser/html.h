// The server-rendered pages of browser sign-in (DESIGN.md §8): the login form, the TOTP step and
// the message pages (errors, signed out). Plain HTML and one stylesheet served by us
// (/assets/portcullis.css); no JavaScript, no external assets. Every value is HTML-escaped.
//
// Each page is served with a strict Content-Security-Policy (no scripts at all), X-Frame-Options
// DENY, frame-ancestors 'none', Cache-Control no-store and Referrer-Policy no-referrer.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/beast/http/status.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "http/request.h"

namespace portcullis::api::browser {

// &, <, >, ", ' escaped for text and double-quoted attribute values.
std::string HtmlEscape(std::string_view s);

struct LoginPage {
  // Hidden fields carrying the authorization request through the form (name, value).
  std::vector<std::pair<std::string, std::string>> hidden;
  std::string csrf_token;
  std::string username;     // pre-filled after a failure
  std::string error;        // "" = none
  std::string client_name;  // who asked for the sign-in
  bool totp_step = false;   // the second step: a code field instead of the password
  std::string mfa_ticket;   // totp_step: the sealed proof of the first step
};

std::string RenderLoginPage(const config::UiConfig& ui, const LoginPage& page);
std::string RenderMessagePage(const config::UiConfig& ui, std::string_view title,
                              std::string_view message);

// A text/html response with the page headers. `form_action_origin`: an origin the login form's
// redirect may go to (Chrome applies form-action to the redirect after a POST); "" = 'self' only.
http::Response HtmlResponse(boost::beast::http::status status, std::string body,
                            std::string_view form_action_origin = {});

// The stylesheet, served at /assets/portcullis.css.
std::string_view Stylesheet();

}  // namespace portcullis::api::browser
