// Base64 (RFC 4648 §4) and base64url (RFC 4648 §5) with strict, canonical decoding.
//
// Every byte string has exactly one accepted encoding, so a JWS cannot be re-encoded into a
// second form that compares unequal but verifies the same (RFC 7515 §2 base64url: no padding).
// The decoders reject characters outside the alphabet, whitespace, wrong or missing padding,
// impossible lengths, and encodings whose unused trailing bits are not zero.
//
// Thread-safety: pure functions.
//
//   std::optional<std::string> raw = Base64UrlDecode(segment);
//   if (!raw) return VerifyError::kNonCanonicalBase64;
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace portcullis::crypto {

// base64url with alphabet [A-Za-z0-9-_] and no '=' padding.
std::string Base64UrlEncode(std::string_view bytes);

// Decodes unpadded base64url. Returns nullopt unless `encoded` is the canonical encoding of some
// byte string: only [A-Za-z0-9-_], no '=', length % 4 != 1, and zero unused trailing bits.
std::optional<std::string> Base64UrlDecode(std::string_view encoded);

// Standard base64 with alphabet [A-Za-z0-9+/] and '=' padding to a multiple of 4 characters.
std::string Base64Encode(std::string_view bytes);

// Decodes padded standard base64. Returns nullopt unless `encoded` is canonical: length a
// multiple of 4, padding exactly where required (only at the end), zero unused trailing bits.
std::optional<std::string> Base64Decode(std::string_view encoded);

}  // namespace portcullis::crypto
