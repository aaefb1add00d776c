// Fuzzes the authorization request of the code flow (authn/authorize_request.h) as
// /oauth2/authorize receives it (api/browser/authorize.cc): the query string is decoded with
// http::ParseQuery, its parameters taken as the handler takes them (an empty value counts as
// absent), and CheckAuthorizeRequest run against no client and against a registered one.
// Invariants: kOk carries a registered redirect URI, a well-formed S256 challenge and the limits
// on state and nonce; kRedirect never targets an unregistered redirect URI; an unknown client
// always gets the error page. PKCE verification runs on the decoded values too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "authn/authorize_request.h"
#include "http/parse.h"

namespace {

using portcullis::authn::AuthorizeCheck;
using portcullis::authn::AuthorizeOutcome;
using portcullis::authn::AuthorizeParams;

std::optional<std::string> Param(const portcullis::http::FormFields& f, std::string_view name) {
  const std::string* v = f.Get(name);
  if (v == nullptr || v->empty()) return std::nullopt;
  return *v;
}

// As ParamsOf in api/browser/authorize.cc.
AuthorizeParams ParamsOf(const portcullis::http::FormFields& f) {
  AuthorizeParams p;
  p.response_type = Param(f, "response_type");
  p.client_id = Param(f, "client_id");
  p.redirect_uri = Param(f, "redirect_uri");
  p.scope = Param(f, "scope");
  p.state = Param(f, "state");
  p.nonce = Param(f, "nonce");
  p.code_challenge = Param(f, "code_challenge");
  p.code_challenge_method = Param(f, "code_challenge_method");
  p.dpop_jkt = Param(f, "dpop_jkt");
  p.prompt = Param(f, "prompt");
  p.max_age = Param(f, "max_age");
  p.request = Param(f, "request");
  p.request_uri = Param(f, "request_uri");
  p.response_mode = Param(f, "response_mode");
  return p;
}

const portcullis::store::Client& RegisteredClient() {
  static const auto* client = new portcullis::store::Client{
      .client_id = "app",
      .name = "App",
      .secret_hash = "",
      .grant_types = {"authorization_code", "refresh_token"},
      .scopes = {"docs:read", "docs:write"},
      .created_at = 0,
      .redirect_uris = {"https://app.example/cb", "http://127.0.0.1:8080/callback"},
      .token_endpoint_auth_method = "none",
  };
  return *client;
}

bool Registered(std::string_view uri) {
  const auto& uris = RegisteredClient().redirect_uris;
  return std::find(uris.begin(), uris.end(), uri) != uris.end();
}

void CheckOutcome(const AuthorizeParams& params, const AuthorizeCheck& check, bool known) {
  if (!known && check.outcome != AuthorizeOutcome::kErrorPage) std::abort();
  if (check.outcome == AuthorizeOutcome::kErrorPage) return;
  if (!Registered(check.request.redirect_uri)) std::abort();
  if (check.outcome == AuthorizeOutcome::kRedirect) {
    if (check.error.empty()) std::abort();
    return;
  }
  const auto& r = check.request;
  if (r.client_id != "app" || !params.redirect_uri || r.redirect_uri != *params.redirect_uri) {
    std::abort();
  }
  if (!portcullis::authn::IsValidCodeChallenge(r.code_challenge)) std::abort();
  if (r.dpop_jkt && !portcullis::authn::IsValidCodeChallenge(*r.dpop_jkt)) std::abort();
  if (r.state && r.state->size() > portcullis::authn::kMaxStateBytes) std::abort();
  if (r.nonce && r.nonce->size() > portcullis::authn::kMaxNonceBytes) std::abort();
  if (r.max_age && (*r.max_age < 0 || *r.max_age > portcullis::authn::kMaxMaxAgeS)) std::abort();
  if (r.prompt_login && r.prompt_none) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  portcullis::Result<portcullis::http::FormFields> fields = portcullis::http::ParseQuery(query);
  if (!fields.ok()) return 0;
  const AuthorizeParams params = ParamsOf(*fields);
  CheckOutcome(params, portcullis::authn::CheckAuthorizeRequest(params, nullptr), false);
  const bool known = params.client_id == "app";
  CheckOutcome(
      params,
      portcullis::authn::CheckAuthorizeRequest(params, known ? &RegisteredClient() : nullptr),
      known);
  if (const std::string* verifier = fields->Get("code_verifier")) {
    const bool ok =
        portcullis::authn::VerifyPkceS256(*verifier, params.code_challenge.value_or(""));
    if (ok && !portcullis::authn::IsValidCodeVerifier(*verifier)) std::abort();
  }
  return 0;
}
