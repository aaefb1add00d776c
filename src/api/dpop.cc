#include "api/dpop.h"

#include <memory>

#include "base/log.h"
#include "http/offload.h"
#include "http/parse.h"
#include "token/dpop_state.h"

namespace portcullis::api {

namespace bhttp = boost::beast::http;

namespace {

// The first element of a possibly comma-separated forwarded value, trimmed.
std::string_view FirstForwarded(std::string_view value) {
  value = value.substr(0, value.find(','));
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

std::string ChallengeFor(std::string_view error) {
  std::string challenge = "DPoP algs=\"ES256 EdDSA\"";
  if (!error.empty()) {
    challenge += ", error=\"";
    challenge += error;
    challenge += '"';
  }
  return challenge;
}

bool WantsNonce(const DpopCheck& check) { return check.error == jose::DpopError::kNonceRequired; }

}  // namespace

DpopTarget RequestTarget(const http::Request& req) {
  DpopTarget target;
  target.method = std::string(req.message.method_string());
  std::string_view scheme = req.tls ? "https" : "http";
  std::string_view host = req.Header("Host");
  if (req.from_trusted_proxy) {
    if (std::string_view proto = FirstForwarded(req.Header("X-Forwarded-Proto")); !proto.empty()) {
      scheme = proto;
    }
    if (std::string_view fhost = FirstForwarded(req.Header("X-Forwarded-Host")); !fhost.empty()) {
      host = fhost;
    }
  }
  if (host.empty()) return target;
  std::string url(scheme);
  url += "://";
  url += host;
  url += req.path;
  target.url = jose::NormalizeHtu(url).value_or("");
  return target;
}

namespace {

void NoteRefused(ApiContext& ctx, const http::Request& req, const DpopCheck& check) {
  ctx.counters.dpop_proofs->IncOne(check.unavailable && check.error == jose::DpopError::kOk
                                       ? "unavailable"
                                       : jose::ToString(check.error));
  log::Info("authn.dpop_rejected",
            {{"reason", check.unavailable && check.error == jose::DpopError::kOk
                            ? "unavailable"
                            : jose::ToString(check.error)},
             {"client_ip", req.client_ip},
             {"request_id", req.request_id}});
}

}  // namespace

boost::asio::awaitable<void> RecordDpopProof(ApiContext& ctx, const http::Request& req,
                                             DpopCheck& check) {
  if (!check.present || check.error != jose::DpopError::kOk || check.recorded) co_return;
  check.recorded = true;
  const UnixSeconds now = ctx.clock->Now();
  if (ctx.dpop_replay != nullptr) {
    check.error = ctx.dpop_replay->Record(check.proof_key, check.expires_at, now);
  }
  if (check.error == jose::DpopError::kOk && ctx.dpop_replay_shared && ctx.db_pool != nullptr) {
    // Another instance may have seen it: the store decides, atomically.
    ApiContext* c = &ctx;
    const std::string proof_key = check.proof_key;
    const UnixSeconds expires_at = check.expires_at;
    auto record = [c, proof_key, expires_at, now] {
      return c->store->RecordDpopProof(proof_key, expires_at, now);
    };
    std::optional<Result<bool>> fresh = co_await http::RunOn(*ctx.db_pool, record);
    if (!fresh || !fresh->ok()) {
      check.unavailable = true;
    } else if (!**fresh) {
      check.error = jose::DpopError::kReplayed;
    }
  }
  if (check.error != jose::DpopError::kOk || check.unavailable) {
    NoteRefused(ctx, req, check);
    check.jkt.clear();
  }
}

boost::asio::awaitable<DpopCheck> CheckDpop(ApiContext& ctx, const http::Request& req,
                                            const DpopTarget& target, std::string_view access_token,
                                            bool record) {
  DpopCheck check;
  const std::size_t count = req.message.count("DPoP");
  if (count == 0) co_return check;
  check.present = true;
  if (count > 1) {
    check.error = jose::DpopError::kMultipleProofs;
    NoteRefused(ctx, req, check);
    co_return check;
  }
  const config::DpopConfig& config = ctx.config->dpop;
  const UnixSeconds now = ctx.clock->Now();
  jose::DpopResult verified = jose::VerifyDpopProof(
      req.Header("DPoP"),
      {.method = target.method, .url = target.url, .access_token = access_token},
      {.max_age_s = config.proof_max_age_s, .leeway_s = config.proof_leeway_s}, now);
  check.error = verified.error;
  if (check.error == jose::DpopError::kOk && config.require_nonce && ctx.dpop_nonces != nullptr &&
      (!verified.proof.nonce || !ctx.dpop_nonces->IsValid(*verified.proof.nonce))) {
    check.error = jose::DpopError::kNonceRequired;
  }
  if (check.error != jose::DpopError::kOk) {
    NoteRefused(ctx, req, check);
    co_return check;
  }
  // A proof is remembered until no check could accept it any more.
  check.expires_at = now + config.proof_max_age_s + config.proof_leeway_s + 1;
  check.proof_key = token::DpopReplayCache::ProofKey(verified.proof.jkt, verified.proof.jti);
  check.jkt = std::move(verified.proof.jkt);
  if (record) {
    co_await RecordDpopProof(ctx, req, check);
    if (check.error != jose::DpopError::kOk || check.unavailable) co_return check;
    ctx.counters.dpop_proofs->IncOne("ok");
  }
  co_return check;
}

void AddDpopNonce(ApiContext& ctx, http::Response& res) {
  if (ctx.config->dpop.require_nonce && ctx.dpop_nonces != nullptr) {
    res.set("DPoP-Nonce", ctx.dpop_nonces->Current());
  }
}

http::Response DpopTokenEndpointError(ApiContext& ctx, const DpopCheck& check) {
  http::Response res;
  if (check.unavailable) {
    res = http::OAuthErrorResponse(bhttp::status::service_unavailable, "temporarily_unavailable",
                                   "the DPoP proof cannot be checked now; retry shortly");
    res.set(bhttp::field::retry_after, "1");
  } else if (WantsNonce(check)) {
    res = http::OAuthErrorResponse(bhttp::status::bad_request, "use_dpop_nonce",
                                   "resend the DPoP proof with the nonce in DPoP-Nonce");
  } else {
    res = http::OAuthErrorResponse(
        bhttp::status::bad_request, "invalid_dpop_proof",
        check.present ? "the DPoP proof is invalid" : "this request needs a DPoP proof");
  }
  res.set(bhttp::field::cache_control, "no-store");
  AddDpopNonce(ctx, res);
  return res;
}

http::Response DpopUnauthorized(ApiContext& ctx, std::string_view error) {
  http::Response res =
      http::ProblemResponse(bhttp::status::unauthorized, "Unauthorized",
                            error == "invalid_token" ? "the credentials are invalid or expired"
                                                     : "the DPoP proof is invalid");
  res.set(bhttp::field::www_authenticate, ChallengeFor(error));
  AddDpopNonce(ctx, res);
  return res;
}

http::Response DpopResourceError(ApiContext& ctx, const DpopCheck& check) {
  if (check.unavailable) {
    http::Response res = http::ProblemResponse(bhttp::status::service_unavailable,
                                               "Service Unavailable", "retry shortly");
    res.set(bhttp::field::retry_after, "1");
    return res;
  }
  return DpopUnauthorized(ctx, WantsNonce(check) ? "use_dpop_nonce" : "invalid_dpop_proof");
}

}  // namespace portcullis::api
