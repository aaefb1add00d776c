// portcullis_verifier: the Python binding of portcullis::Verifier (DESIGN §11).
//
//   import portcullis_verifier as pv
//   v = pv.Verifier(issuer="https://auth.example", audience="orders-api",
//                   jwks_url="https://auth.example/.well-known/jwks.json")
//   try:
//       claims = v.verify(token)            # dict of the verified claims
//   except pv.InvalidToken as e:
//       log(e.reason)                        # "expired", "bad_signature", ... (never the token)
//   v.has_permission(claims, "orders:refund")
//
// Every check is the C++ library's (include/portcullis/verifier.h), so the same code as the
// server's. The GIL is released while a token is verified or the JWKS fetched, so threads of a
// Python server verify in parallel.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portcullis/claims.h"
#include "portcullis/verifier.h"
#include "portcullis/verify_error.h"

namespace py = pybind11;

namespace {

// The module's InvalidToken type; set once at import.
PyObject* g_invalid_token = nullptr;

[[noreturn]] void RaiseInvalidToken(const portcullis::VerifyResult& result) {
  const std::string reason(portcullis::ToString(result.error));
  std::string message = "invalid token: " + reason;
  if (!result.dpop_error.empty()) message += " (" + result.dpop_error + ")";
  py::object error = py::reinterpret_borrow<py::object>(g_invalid_token)(message);
  error.attr("reason") = reason;
  error.attr("dpop_error") =
      result.dpop_error.empty() ? py::object(py::none()) : py::object(py::str(result.dpop_error));
  PyErr_SetObject(g_invalid_token, error.ptr());
  throw py::error_already_set();
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string joined;
  for (const std::string& scope : scopes) {
    if (!joined.empty()) joined += ' ';
    joined += scope;
  }
  return joined;
}

py::dict ToDict(const portcullis::Claims& claims) {
  py::dict out;
  out["iss"] = claims.iss;
  out["sub"] = claims.sub;
  out["aud"] = claims.aud;
  out["exp"] = claims.exp;
  out["iat"] = claims.iat;
  out["nbf"] = claims.nbf;
  out["jti"] = claims.jti;
  out["client_id"] = claims.client_id;
  out["scope"] = JoinScopes(claims.scopes);
  out["scopes"] = claims.scopes;
  out["roles"] = claims.roles;
  if (claims.username.has_value()) out["username"] = *claims.username;
  if (claims.cnf_jkt.has_value()) {
    py::dict cnf;
    cnf["jkt"] = *claims.cnf_jkt;
    out["cnf"] = cnf;
  }
  return out;
}

// The permissions a claims dict grants: its "scopes" list, else its "scope" string.
portcullis::Claims FromDict(const py::dict& claims) {
  portcullis::Claims out;
  if (claims.contains("scopes")) {
    for (const py::handle item : claims["scopes"])
      out.scopes.push_back(py::cast<std::string>(item));
  } else if (claims.contains("scope")) {
    const std::string scope = py::cast<std::string>(claims["scope"]);
    std::string_view rest = scope;
    while (!rest.empty()) {
      const std::size_t space = rest.find(' ');
      const std::string_view part = rest.substr(0, space);
      if (!part.empty()) out.scopes.emplace_back(part);
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
  }
  return out;
}

bool HasPermission(const py::dict& claims, std::string_view permission) {
  return portcullis::HasPermission(FromDict(claims), permission);
}

std::vector<std::string> Audiences(const py::object& audience) {
  if (py::isinstance<py::str>(audience)) return {py::cast<std::string>(audience)};
  if (audience.is_none()) return {};
  return py::cast<std::vector<std::string>>(audience);
}

class PyVerifier {
 public:
  PyVerifier(std::string issuer, const py::object& audience, std::string jwks_url,
             std::optional<std::string> ca_file, std::int64_t leeway,
             std::optional<std::vector<std::string>> allowed_algorithms,
             std::int64_t jwks_min_refresh, std::int64_t fetch_timeout,
             std::int64_t cache_max_entries, std::int64_t dpop_replay_entries) {
    portcullis::VerifierOptions options;
    options.issuer = std::move(issuer);
    options.audiences = Audiences(audience);
    options.jwks_url = std::move(jwks_url);
    options.ca_file = ca_file.value_or("");
    if (leeway < 0) throw py::value_error("leeway must not be negative");
    if (jwks_min_refresh < 0) throw py::value_error("jwks_min_refresh must not be negative");
    if (fetch_timeout < 1) throw py::value_error("fetch_timeout must be at least 1");
    if (cache_max_entries < 0) throw py::value_error("cache_max_entries must not be negative");
    options.cache_max_entries = static_cast<std::size_t>(cache_max_entries);
    if (dpop_replay_entries < 0) throw py::value_error("dpop_replay_entries must not be negative");
    options.dpop_replay_entries = static_cast<std::size_t>(dpop_replay_entries);
    options.leeway = std::chrono::seconds(leeway);
    options.allowed_algorithms = allowed_algorithms.value_or(std::vector<std::string>{});
    options.jwks_min_refresh = std::chrono::seconds(jwks_min_refresh);
    options.fetch_timeout = std::chrono::seconds(fetch_timeout);
    portcullis::CreateResult<std::unique_ptr<portcullis::Verifier>> created;
    {
      py::gil_scoped_release release;  // the first JWKS fetch
      created = portcullis::Verifier::Create(std::move(options));
    }
    if (!created.ok()) throw py::value_error(created.error);
    verifier_ = std::move(created.value);
  }

  py::dict Verify(const std::string& token) {
    portcullis::VerifyResult result;
    {
      py::gil_scoped_release release;
      result = verifier_->Verify(token);
    }
    if (!result.ok()) RaiseInvalidToken(result);
    return ToDict(result.claims);
  }

  py::dict VerifyDpop(const std::string& token, const std::string& proof, const std::string& method,
                      const std::string& url) {
    portcullis::VerifyResult result;
    {
      py::gil_scoped_release release;
      result = verifier_->VerifyDpop(token, proof, method, url);
    }
    if (!result.ok()) RaiseInvalidToken(result);
    return ToDict(result.claims);
  }

  bool Refresh() {
    py::gil_scoped_release release;
    return verifier_->Refresh();
  }

 private:
  std::unique_ptr<portcullis::Verifier> verifier_;
};

}  // namespace

PYBIND11_MODULE(portcullis_verifier, m) {
  m.doc() =
      "Verify Portcullis access tokens (JWT, RFC 9068) and DPoP proofs with the server's own "
      "checks.";

  py::object invalid_token = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "portcullis_verifier.InvalidToken",
      "The token (or its DPoP proof) was refused. `.reason` names why, as the server's logs "
      "do (\"expired\", \"bad_signature\", \"audience_mismatch\", ...); `.dpop_error` the DPoP "
      "failure when reason is \"invalid_dpop_proof\".",
      PyExc_Exception, nullptr));
  if (!invalid_token) throw py::error_already_set();
  invalid_token.attr("reason") = py::none();
  invalid_token.attr("dpop_error") = py::none();
  g_invalid_token = invalid_token.inc_ref().ptr();  // lives as long as the process
  m.attr("InvalidToken") = invalid_token;

  py::class_<PyVerifier>(m, "Verifier")
      .def(py::init<std::string, py::object, std::string, std::optional<std::string>, std::int64_t,
                    std::optional<std::vector<std::string>>, std::int64_t, std::int64_t,
                    std::int64_t, std::int64_t>(),
           py::kw_only(), py::arg("issuer"), py::arg("audience"), py::arg("jwks_url"),
           py::arg("ca_file") = py::none(), py::arg("leeway") = 30,
           py::arg("allowed_algorithms") = py::none(), py::arg("jwks_min_refresh") = 30,
           py::arg("fetch_timeout") = 5, py::arg("cache_max_entries") = 10'000,
           py::arg("dpop_replay_entries") = 100'000,
           "Fetches and caches the issuer's JWKS (an unreachable issuer is not an error: verify "
           "raises InvalidToken('jwks_unavailable') until a fetch succeeds). `audience`: a string "
           "or a list (the token's aud must contain one). Tokens that passed are remembered "
           "(cache_max_entries; 0 = verify every time); a hit still checks the times, and DPoP "
           "proofs are checked on every call, and each is accepted once (dpop_replay_entries "
           "remembered per process; 0 = no replay check). Bad options raise ValueError.")
      .def("verify", &PyVerifier::Verify, py::arg("token"),
           "Verifies a Bearer access token; returns its claims as a dict or raises InvalidToken. "
           "A DPoP-bound token raises InvalidToken('dpop_bound_as_bearer'): use verify_dpop.")
      .def("verify_dpop", &PyVerifier::VerifyDpop, py::arg("token"), py::arg("proof"),
           py::arg("method"), py::arg("url"),
           "Verifies 'Authorization: DPoP <token>' with its 'DPoP' proof for the request's "
           "method and absolute URL; returns the claims or raises InvalidToken.")
      .def("refresh", &PyVerifier::Refresh,
           "Refetches the JWKS now; False (the cached keys stay) when the fetch fails.")
      .def_static("has_permission", &HasPermission, py::arg("claims"), py::arg("permission"),
                  "True when the claims' scopes grant `permission` under the server's wildcard "
                  "rules ('orders:*' grants 'orders:refund').");
  m.def("has_permission", &HasPermission, py::arg("claims"), py::arg("permission"),
        "True when the claims' scopes grant `permission` under the server's wildcard rules.");
}
