#include "password/hasher.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <string>

#include "password/phc.h"

namespace portcullis::password {
namespace {

// Cheap parameters so the suite stays fast; one test uses the defaults.
constexpr Argon2Params kFast{.memory_kib = 64, .iterations = 1, .parallelism = 1};

Hasher MakeHasher(const Argon2Params& params = kFast) {
  Result<Hasher> hasher = Hasher::Create(params);
  EXPECT_TRUE(hasher.ok()) << hasher.status().ToString();
  return std::move(hasher).value();
}

// Known answers from Debian's argon2 CLI (reference implementation) for "correct horse":
//   echo -n "correct horse" | argon2 somesaltsalt -id -t 2 -m 10 -p 4 -e
constexpr std::string_view kArgon2idP4 =
    "$argon2id$v=19$m=1024,t=2,p=4$c29tZXNhbHRzYWx0$1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM";
constexpr std::string_view kArgon2iT3 =
    "$argon2i$v=19$m=1024,t=3,p=1$c29tZXNhbHRzYWx0$MJ4/VnGOXh1zPdSqnJ4yjv+hwXXo+rYbqTBepNEGlpU";
constexpr std::string_view kArgon2d =
    "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0$j4OIOF3XoMLcNdzTVwzkFRFXEQTTWF23hOYInJoSAhc";
// echo -n "correct horse" | argon2 saltsalt -id -t 2 -m 15 -p 1 -e  (8-byte salt)
constexpr std::string_view kArgon2idCli =
    "$argon2id$v=19$m=32768,t=2,p=1$c2FsdHNhbHQ$vUDxuGKexN3YUGwufDyomkTKDteOupQ90Tq2tLRhUy8";
constexpr std::string_view kCorrect = "correct horse";

// A bcrypt hash of `password` with `prefix` ("$2a$", "$2b$", "$2y$"), made by libxcrypt.
std::string Bcrypt(std::string_view prefix, const std::string& password) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  EXPECT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting.data(), setting.size()), nullptr);
  std::string s(setting.data());
  s.replace(0, 4, prefix);
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), s.c_str(), &data, sizeof(data));
  EXPECT_NE(out, nullptr);
  return out == nullptr ? std::string() : std::string(out);
}

TEST(HasherTest, HashWritesArgon2idPhcWithTheDefaultParams) {
  Hasher hasher = MakeHasher(Argon2Params{});
  Result<std::string> encoded = hasher.Hash("a password");
  ASSERT_TRUE(encoded.ok());
  EXPECT_TRUE(encoded->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *encoded;
  auto phc = ParsePhc(*encoded);
  ASSERT_TRUE(phc.has_value());
  EXPECT_EQ(DecodedBase64Size(phc->salt_b64.size()), 16u);
  EXPECT_EQ(DecodedBase64Size(phc->hash_b64.size()), 32u);
  EXPECT_EQ(hasher.Verify(*encoded, "a password"), VerifyOutcome::kMatch);
  EXPECT_FALSE(hasher.NeedsRehash(*encoded));
}

TEST(HasherTest, HashThenVerifyMatchesOnlyTheSamePassword) {
  Hasher hasher = MakeHasher();
  Result<std::string> encoded = hasher.Hash("hunter2 hunter2");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(hasher.Verify(*encoded, "hunter2 hunter2"), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify(*encoded, "hunter2 hunter3"), VerifyOutcome::kMismatch);
  EXPECT_EQ(hasher.Verify(*encoded, "Hunter2 hunter2"), VerifyOutcome::kMismatch);
  EXPECT_EQ(hasher.Verify(*encoded, ""), VerifyOutcome::kMismatch);
}

TEST(HasherTest, EmptyAndBinaryPasswordsHashAndVerify) {
  Hasher hasher = MakeHasher();
  Result<std::string> empty = hasher.Hash("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(hasher.Verify(*empty, ""), VerifyOutcome::kMatch);
  const std::string with_nul("a\0b", 3);
  Result<std::string> binary = hasher.Hash(with_nul);
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(hasher.Verify(*binary, with_nul), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify(*binary, "a"), VerifyOutcome::kMismatch);
}

TEST(HasherTest, EachHashHasAFreshSalt) {
  Hasher hasher = MakeHasher();
  Result<std::string> a = hasher.Hash("same password");
  Result<std::string> b = hasher.Hash("same password");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(HasherTest, FlippingAHashCharacterMismatches) {
  Hasher hasher = MakeHasher();
  Result<std::string> encoded = hasher.Hash("pw");
  ASSERT_TRUE(encoded.ok());
  // Every character of the salt and hash, replaced by 'A' (0) or 'Q' (16): both keep the unused
  // low bits of a final character zero, so the mutant stays canonical and parses.
  const std::size_t start = encoded->size() - 43 - 1 - 22;
  for (std::size_t i = start; i < encoded->size(); ++i) {
    if ((*encoded)[i] == '$') continue;
    std::string mutant = *encoded;
    mutant[i] = mutant[i] == 'A' ? 'Q' : 'A';
    EXPECT_EQ(hasher.Verify(mutant, "pw"), VerifyOutcome::kMismatch) << i;
  }
}

TEST(HasherTest, VerifiesReferenceArgon2idWithFourLanes) {
  Hasher hasher = MakeHasher();
  EXPECT_EQ(hasher.Verify(kArgon2idP4, kCorrect), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify(kArgon2idP4, "correct horsE"), VerifyOutcome::kMismatch);
}

TEST(HasherTest, VerifiesReferenceArgon2idFromTheCli) {
  Hasher hasher = MakeHasher();
  EXPECT_EQ(hasher.Verify(kArgon2idCli, kCorrect), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify(kArgon2idCli, "wrong"), VerifyOutcome::kMismatch);
}

TEST(HasherTest, VerifiesArgon2i) {
  Hasher hasher = MakeHasher();
  EXPECT_EQ(hasher.Verify(kArgon2iT3, kCorrect), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify(kArgon2iT3, "wrong"), VerifyOutcome::kMismatch);
}

TEST(HasherTest, VerifiesHashesMadeWithOtherParams) {
  Hasher old_hasher = MakeHasher(Argon2Params{.memory_kib = 128, .iterations = 3});
  Result<std::string> encoded = old_hasher.Hash("pw");
  ASSERT_TRUE(encoded.ok());
  Hasher hasher = MakeHasher();
  EXPECT_EQ(hasher.Verify(*encoded, "pw"), VerifyOutcome::kMatch);
  EXPECT_TRUE(hasher.NeedsRehash(*encoded));
  EXPECT_FALSE(old_hasher.NeedsRehash(*encoded));
}

TEST(HasherTest, UnsupportedSchemes) {
  Hasher hasher = MakeHasher();
  const std::string unsupported[] = {
      std::string(kArgon2d),
      "$argon2id$v=16$m=1024,t=2,p=4$c29tZXNhbHRzYWx0$1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM",
      "$6$saltsalt$Zq3nMCo.5RyK4wNxNFhKWT1FCR5F6tCCJ9pUqcLm5.C1aMxaoaYrdQpMz6wFR6SDKVFLuAJBRQHNz/"
      "wVw6q6F1",
      "$5$rounds=5000$salt$hash",
      "$1$saltsalt$hash",
      "$y$j9T$salt$hash",
      "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$pbkdf2-sha256$29000$salt$hash",
  };
  for (const std::string& s : unsupported) {
    EXPECT_EQ(hasher.Verify(s, kCorrect), VerifyOutcome::kUnsupportedScheme) << s;
    EXPECT_TRUE(hasher.NeedsRehash(s)) << s;
    EXPECT_EQ(ClassifyHash(s), HashKind::kUnsupportedScheme) << s;
    EXPECT_FALSE(IsSupportedHash(s)) << s;
  }
}

TEST(HasherTest, MalformedHashes) {
  Hasher hasher = MakeHasher();
  const std::string malformed[] = {
      "",
      "junk",
      "$",
      "$$",
      "$6$",
      "plaintext-password",
      "$argon2id$",
      "$argon2id$v=19$m=1024,t=2,p=4$c29tZXNhbHRzYWx0",
      "$argon2id$v=19$m=1024,t=2,p=4$c29tZXNhbHRzYWx0$1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM=",
      "$argon2id$v=19$m=1024,t=2,p=4,keyid=x$c29tZXNhbHRzYWx0$1R1yXZhnNQBF1AsC098iQlFVMr+"
      "mfdHXbIhuNJPYGQM",
      "$argon2ix$v=19$m=1024,t=2,p=4$c29tZXNhbHRzYWx0$1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM",
      "$2b$",
      "$2b$05$short",
      "$2b$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",   // cost below 4
      "$2b$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",   // cost above 31
      "$2b$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",   // one-digit cost
      "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW=",  // 61 characters
      "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",   // bad character
  };
  for (const std::string& s : malformed) {
    EXPECT_EQ(hasher.Verify(s, kCorrect), VerifyOutcome::kMalformedHash) << s;
    EXPECT_TRUE(hasher.NeedsRehash(s)) << s;
    EXPECT_EQ(ClassifyHash(s), HashKind::kMalformed) << s;
    EXPECT_FALSE(IsSupportedHash(s)) << s;
  }
}

TEST(HasherTest, VerifiesBcryptKnownAnswer) {
  // crypt_blowfish's test vector.
  Hasher hasher = MakeHasher();
  EXPECT_EQ(hasher.Verify("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
            VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*V"),
            VerifyOutcome::kMismatch);
}

TEST(HasherTest, VerifiesBcryptVariantsAndAlwaysNeedsRehash) {
  Hasher hasher = MakeHasher();
  for (std::string_view prefix : {"$2a$", "$2b$", "$2y$"}) {
    const std::string encoded = Bcrypt(prefix, "tr0ub4dor&3");
    ASSERT_EQ(encoded.size(), 60u) << encoded;
    ASSERT_TRUE(encoded.starts_with(prefix)) << encoded;
    EXPECT_EQ(hasher.Verify(encoded, "tr0ub4dor&3"), VerifyOutcome::kMatch) << encoded;
    EXPECT_EQ(hasher.Verify(encoded, "tr0ub4dor&4"), VerifyOutcome::kMismatch) << encoded;
    EXPECT_EQ(hasher.Verify(encoded, ""), VerifyOutcome::kMismatch) << encoded;
    EXPECT_TRUE(hasher.NeedsRehash(encoded));
  }
}

TEST(HasherTest, BcryptNeverMatchesAPasswordWithNul) {
  Hasher hasher = MakeHasher();
  const std::string encoded = Bcrypt("$2b$", "abc");
  EXPECT_EQ(hasher.Verify(encoded, "abc"), VerifyOutcome::kMatch);
  EXPECT_EQ(hasher.Verify(encoded, std::string_view("abc\0def", 7)), VerifyOutcome::kMismatch);
}

TEST(HasherTest, NeedsRehashOnlyForOtherAlgorithmsParamsOrShortSalts) {
  Hasher hasher = MakeHasher(Argon2Params{.memory_kib = 1024, .iterations = 2});
  Result<std::string> own = hasher.Hash("pw");
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(hasher.NeedsRehash(*own));
  EXPECT_TRUE(hasher.NeedsRehash(kArgon2idP4));  // p=4
  EXPECT_TRUE(hasher.NeedsRehash(kArgon2iT3));   // argon2i
  EXPECT_TRUE(hasher.NeedsRehash(kArgon2d));
  // Same algorithm and params as ours, but a 12-byte salt.
  EXPECT_TRUE(
      hasher.NeedsRehash("$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0$"
                         "1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM"));
  // Same params, 16-byte hash (python argon2 before 21.2 wrote those).
  auto phc = ParsePhc(*own);
  ASSERT_TRUE(phc.has_value());
  phc->hash_b64 = "o3FSlaYHd4gABRdj6zJttg";
  EXPECT_TRUE(hasher.NeedsRehash(FormatPhc(*phc)));
  EXPECT_TRUE(MakeHasher(Argon2Params{.memory_kib = 1024, .iterations = 3}).NeedsRehash(*own));
  EXPECT_TRUE(MakeHasher(Argon2Params{.memory_kib = 2048, .iterations = 2}).NeedsRehash(*own));
}

TEST(HasherTest, ValidateParamsAcceptsTheDefaults) {
  EXPECT_TRUE(Hasher::ValidateParams(Argon2Params{}).ok());
  EXPECT_TRUE(Hasher::ValidateParams(Argon2Params{.memory_kib = 8, .iterations = 1}).ok());
}

TEST(HasherTest, ValidateParamsRejectsMoreThanOneLane) {
  const Status expected =
      InvalidArgumentError("parallelism must be 1 (libsodium hashes with a single lane)");
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.parallelism = 2}), expected);
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.parallelism = 0}), expected);
  Result<Hasher> hasher = Hasher::Create(Argon2Params{.parallelism = 2});
  ASSERT_FALSE(hasher.ok());
  EXPECT_EQ(hasher.status(), expected);
}

TEST(HasherTest, ValidateParamsRejectsTooLittleOrTooMuchMemory) {
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.memory_kib = 7}),
            InvalidArgumentError("memory_kib must be at least 8"));
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.memory_kib = 0}),
            InvalidArgumentError("memory_kib must be at least 8"));
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.memory_kib = kPhcMaxMemoryKib + 1}),
            InvalidArgumentError("memory_kib must be at most 4194304"));
}

TEST(HasherTest, ValidateParamsRejectsBadIterations) {
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.iterations = 0}),
            InvalidArgumentError("iterations must be at least 1"));
  EXPECT_EQ(Hasher::ValidateParams(Argon2Params{.iterations = kPhcMaxIterations + 1}),
            InvalidArgumentError("iterations must be at most 1024"));
}

TEST(HasherTest, DummyVerifyRunsAndParamsAreKept) {
  Hasher hasher = MakeHasher();
  hasher.DummyVerify("anything");
  hasher.DummyVerify("");
  EXPECT_EQ(hasher.params(), kFast);
}

TEST(HasherTest, ClassifyHashNamesTheSupportedSchemes) {
  Hasher hasher = MakeHasher();
  Result<std::string> own = hasher.Hash("pw");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(ClassifyHash(*own), HashKind::kArgon2id);
  EXPECT_EQ(ClassifyHash(kArgon2idP4), HashKind::kArgon2id);
  EXPECT_EQ(ClassifyHash(kArgon2idCli), HashKind::kArgon2id);
  EXPECT_EQ(ClassifyHash(kArgon2iT3), HashKind::kArgon2i);
  for (std::string_view prefix : {"$2a$", "$2b$", "$2y$"}) {
    const std::string encoded = Bcrypt(prefix, "pw");
    EXPECT_EQ(ClassifyHash(encoded), HashKind::kBcrypt) << encoded;
    EXPECT_TRUE(IsSupportedHash(encoded)) << encoded;
  }
  EXPECT_TRUE(IsSupportedHash(kArgon2iT3));
  EXPECT_EQ(ToString(HashKind::kArgon2id), "argon2id");
  EXPECT_EQ(ToString(HashKind::kArgon2i), "argon2i");
  EXPECT_EQ(ToString(HashKind::kBcrypt), "bcrypt");
  EXPECT_EQ(ToString(HashKind::kUnsupportedScheme), "unsupported_scheme");
  EXPECT_EQ(ToString(HashKind::kMalformed), "malformed");
}

TEST(HasherTest, VerifyOutcomeNames) {
  EXPECT_EQ(ToString(VerifyOutcome::kMatch), "match");
  EXPECT_EQ(ToString(VerifyOutcome::kMismatch), "mismatch");
  EXPECT_EQ(ToString(VerifyOutcome::kMalformedHash), "malformed_hash");
  EXPECT_EQ(ToString(VerifyOutcome::kUnsupportedScheme), "unsupported_scheme");
}

}  // namespace
}  // namespace portcullis::password
