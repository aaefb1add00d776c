// ConstantTimeEqual: the only way Portcullis compares secrets (MACs, hashes of API keys and
// refresh tokens, CSRF values, signatures it computed itself).
//
// WARNING: the time taken depends on the lengths of the inputs (a length mismatch returns at
// once) but not on their contents. Compare fixed-length values, such as two SHA-256 digests,
// so that the lengths are public anyway.
//
// Thread-safety: pure; safe from any thread.
#pragma once

#include <string_view>

namespace portcullis::crypto {

// True when a and b hold the same bytes. Runs in time independent of the contents when the
// lengths are equal; may reveal whether the lengths differ.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace portcullis::crypto
