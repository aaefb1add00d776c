#include "jose/verify_error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace portcullis::jose {
namespace {

// The numbers are log and metric keys: this test pins them.
TEST(VerifyErrorTest, NumbersAndNamesAreStable) {
  struct Entry {
    VerifyError error;
    int number;
    std::string_view name;
  };
  const Entry kEntries[] = {
      {VerifyError::kOk, 0, "ok"},
      {VerifyError::kTooLarge, 1, "too_large"},
      {VerifyError::kMalformed, 2, "malformed"},
      {VerifyError::kNonCanonicalBase64, 3, "non_canonical_base64"},
      {VerifyError::kMalformedJson, 4, "malformed_json"},
      {VerifyError::kAlgMissing, 10, "alg_missing"},
      {VerifyError::kAlgNone, 11, "alg_none"},
      {VerifyError::kAlgNotAllowed, 12, "alg_not_allowed"},
      {VerifyError::kAlgMismatch, 13, "alg_mismatch"},
      {VerifyError::kKidMissing, 14, "kid_missing"},
      {VerifyError::kKeyNotFound, 15, "key_not_found"},
      {VerifyError::kTypInvalid, 16, "typ_invalid"},
      {VerifyError::kCritPresent, 17, "crit_present"},
      {VerifyError::kEmbeddedKey, 18, "embedded_key"},
      {VerifyError::kSignatureInvalid, 20, "bad_signature"},
      {VerifyError::kClaimMissing, 30, "claim_missing"},
      {VerifyError::kClaimInvalid, 31, "claim_invalid"},
      {VerifyError::kIssuerMismatch, 32, "issuer_mismatch"},
      {VerifyError::kAudienceMismatch, 33, "audience_mismatch"},
      {VerifyError::kExpired, 34, "expired"},
      {VerifyError::kNotYetValid, 35, "not_yet_valid"},
      {VerifyError::kIssuedInFuture, 36, "issued_in_future"},
      {VerifyError::kRevoked, 40, "revoked"},
      {VerifyError::kStaleCredentials, 41, "stale_credentials"},
      {VerifyError::kSubjectDisabled, 42, "subject_disabled"},
      {VerifyError::kUnknownSubject, 43, "unknown_subject"},
  };
  std::set<std::string_view> names;
  for (const Entry& e : kEntries) {
    EXPECT_EQ(static_cast<int>(e.error), e.number) << e.name;
    EXPECT_EQ(ToString(e.error), e.name);
    names.insert(ToString(e.error));
  }
  EXPECT_EQ(names.size(), std::size(kEntries));
}

}  // namespace
}  // namespace portcullis::jose
