#include "token/user_state_cache.h"

#include <gtest/gtest.h>

namespace portcullis::token {
namespace {

using jose::VerifyError;

TEST(UserStateCacheTest, CurrentVersionIsAccepted) {
  UserStateCache cache;
  cache.Set("u1", 3, false);
  EXPECT_EQ(cache.Check("u1", 3), VerifyError::kOk);
}

TEST(UserStateCacheTest, VersionBelowCurrentIsStale) {
  UserStateCache cache;
  cache.Set("u1", 3, false);
  EXPECT_EQ(cache.Check("u1", 2), VerifyError::kStaleCredentials);
  EXPECT_EQ(cache.Check("u1", 0), VerifyError::kStaleCredentials);
}

TEST(UserStateCacheTest, VersionAboveCurrentIsAccepted) {
  UserStateCache cache;
  cache.Set("u1", 3, false);
  EXPECT_EQ(cache.Check("u1", 4), VerifyError::kOk);
}

TEST(UserStateCacheTest, UnknownUserIsUnknownSubject) {
  UserStateCache cache;
  EXPECT_EQ(cache.Check("nobody", 1), VerifyError::kUnknownSubject);
}

TEST(UserStateCacheTest, RemovedUserIsUnknownSubject) {
  UserStateCache cache;
  cache.Set("u1", 1, false);
  cache.Remove("u1");
  cache.Remove("never-there");
  EXPECT_EQ(cache.Check("u1", 1), VerifyError::kUnknownSubject);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(UserStateCacheTest, DisabledUserIsRejectedBeforeTheVersionCheck) {
  UserStateCache cache;
  cache.Set("u1", 3, true);
  EXPECT_EQ(cache.Check("u1", 3), VerifyError::kSubjectDisabled);
  EXPECT_EQ(cache.Check("u1", 1), VerifyError::kSubjectDisabled);
  cache.Set("u1", 4, false);  // re-enabled (enabling does not bump)
  EXPECT_EQ(cache.Check("u1", 4), VerifyError::kOk);
  EXPECT_EQ(cache.Check("u1", 3), VerifyError::kStaleCredentials);
}

TEST(UserStateCacheTest, VersionNeverGoesDown) {
  UserStateCache cache;
  cache.Set("u1", 5, false);
  cache.Set("u1", 4, false);  // a bump that finished out of order
  EXPECT_EQ(cache.Check("u1", 4), VerifyError::kStaleCredentials);
  EXPECT_EQ(cache.Check("u1", 5), VerifyError::kOk);
}

TEST(UserStateCacheTest, LoadReplacesEverything) {
  UserStateCache cache;
  cache.Set("old", 1, false);
  cache.Load({{"u1", 2, false}, {"u2", 1, true}});
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Check("old", 1), VerifyError::kUnknownSubject);
  EXPECT_EQ(cache.Check("u1", 2), VerifyError::kOk);
  EXPECT_EQ(cache.Check("u2", 1), VerifyError::kSubjectDisabled);
}

}  // namespace
}  // namespace portcullis::token
