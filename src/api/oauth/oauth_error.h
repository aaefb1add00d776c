// The one place that maps token-endpoint failures to RFC 6749 §5.2 responses (STYLE point 6).
// Bodies stay generic; the precise reason goes to the log and a per-reason counter.
#pragma once

#include <string_view>

#include "authn/authn_error.h"
#include "http/parse.h"
#include "http/request.h"
#include "http/response.h"

namespace portcullis::api {

// 400 invalid_request with a description of what is wrong with the request's shape.
http::Response InvalidRequest(std::string_view description);
// A failed password grant: 400 invalid_grant for bad credentials and disabled users alike,
// 429 temporarily_unavailable + Retry-After when locked/throttled, 503 when the store failed.
// `retry_after_s` is the Retry-After of a 429 (locked/throttled).
http::Response PasswordGrantFailure(authn::AuthnError error, std::int64_t retry_after_s = 1);
// The hash worker pool is full: 503 temporarily_unavailable + Retry-After.
http::Response HashPoolFull();

}  // namespace portcullis::api
