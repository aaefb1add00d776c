// DPoP at the HTTP edge (DESIGN §9, RFC 9449): the request's DPoP header checked against the
// request it came with, the replay cache (memory, and the store when instances share one), the
// server nonce; and the one mapping of DPoP failures to HTTP — at the token endpoint 400
// {"error":"invalid_dpop_proof"|"use_dpop_nonce"}, on resources 401 with
// `WWW-Authenticate: DPoP error=...` (§7.1), a fresh `DPoP-Nonce` whenever a nonce is wanted.
//
// Thread-safety: the ApiContext's objects are thread-safe; a Request belongs to one coroutine.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "api/api_context.h"
#include "http/request.h"
#include "http/response.h"
#include "jose/dpop.h"

namespace portcullis::api {

// The algorithms a proof may use, as discovery and the DPoP challenge list them.
inline constexpr std::string_view kDpopAlgorithms[] = {"ES256", "EdDSA"};

// The method and URL a proof must name.
struct DpopTarget {
  std::string method;
  std::string url;  // jose::NormalizeHtu form; "" when the request has no usable URL
};

// This request's own target: its method, and scheme://host/path — the scheme from TLS and the
// host from `Host`, or from X-Forwarded-Proto / X-Forwarded-Host when the peer is a trusted
// proxy (server.trusted_proxies).
DpopTarget RequestTarget(const http::Request& req);

struct DpopCheck {
  bool present = false;  // exactly one DPoP header was sent (else error says why, or nothing)
  jose::DpopError error = jose::DpopError::kOk;
  bool unavailable = false;  // the shared replay check could not be made: answer 503
  std::string jkt;           // the proof key's thumbprint when present and ok
  // For RecordDpopProof: the replay key and until when it is remembered.
  std::string proof_key;
  UnixSeconds expires_at = 0;
  bool recorded = false;
};

// Checks the request's DPoP header, if any: none → {present=false}; two or more →
// kMultipleProofs; else jose::VerifyDpopProof for `target` (with "ath" of `access_token` when
// not empty), the nonce when dpop.require_nonce, then — unless `record` is false — the replay
// check (RecordDpopProof).
boost::asio::awaitable<DpopCheck> CheckDpop(ApiContext& ctx, const http::Request& req,
                                            const DpopTarget& target, std::string_view access_token,
                                            bool record = true);

// The replay check of a proof CheckDpop accepted: the memory cache, and — when the store is
// shared by several instances (PostgreSQL) — the store's record of proofs, on the db pool.
// Sets error kReplayed, or unavailable when the store cannot tell. Idempotent. The token
// endpoint calls it only once the grant has succeeded, so requests that fail (a wrong password,
// an unknown client) cannot fill the cache with proofs of keys of their own.
boost::asio::awaitable<void> RecordDpopProof(ApiContext& ctx, const http::Request& req,
                                             DpopCheck& check);

// The token endpoint's answer to a failed check: 400 invalid_dpop_proof, or use_dpop_nonce
// with a DPoP-Nonce header; 503 + Retry-After when unavailable.
http::Response DpopTokenEndpointError(ApiContext& ctx, const DpopCheck& check);

// A resource's 401 for a DPoP failure (`error` "invalid_dpop_proof", "use_dpop_nonce" or
// "invalid_token"), with `WWW-Authenticate: DPoP algs="ES256 EdDSA", error=...` and the nonce.
http::Response DpopUnauthorized(ApiContext& ctx, std::string_view error);

// The resource answer to a failed check (invalid_dpop_proof / use_dpop_nonce / 503).
http::Response DpopResourceError(ApiContext& ctx, const DpopCheck& check);

// Adds `DPoP-Nonce: <current>` when the server demands nonces (RFC 9449 §8.2: a server may
// hand out a fresh nonce on any response).
void AddDpopNonce(ApiContext& ctx, http::Response& res);

}  // namespace portcullis::api
