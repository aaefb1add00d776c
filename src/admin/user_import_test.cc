#include "admin/user_import.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace portcullis::admin {
namespace {

using namespace std::chrono_literals;

// Hashes of "correct horse": Debian's argon2 CLI and crypt_blowfish's test vector (for "U*U").
constexpr char kArgon2id[] =
    "$argon2id$v=19$m=1024,t=2,p=4$c29tZXNhbHRzYWx0$1R1yXZhnNQBF1AsC098iQlFVMr+mfdHXbIhuNJPYGQM";
constexpr char kArgon2i[] =
    "$argon2i$v=19$m=1024,t=3,p=1$c29tZXNhbHRzYWx0$MJ4/VnGOXh1zPdSqnJ4yjv+hwXXo+rYbqTBepNEGlpU";
constexpr char kBcrypt2a[] = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
constexpr char kBcrypt2b[] = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
constexpr char kBcrypt2y[] = "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
constexpr char kMd5Crypt[] = "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/";

// Every record of `text` read as `format`; the header must be valid.
std::vector<ImportRecord> ReadAll(const std::string& text, ImportFormat format) {
  std::istringstream in(text);
  Result<std::unique_ptr<ImportReader>> reader = ImportReader::Create(in, format);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<ImportRecord> out;
  if (!reader.ok()) return out;
  while (std::optional<ImportRecord> record = (*reader)->Next()) out.push_back(std::move(*record));
  EXPECT_EQ((*reader)->bytes_read(), text.size());
  return out;
}

const ImportRow& RowOf(const ImportRecord& record) {
  static const ImportRow kEmpty;
  const ImportRow* row = std::get_if<ImportRow>(&record);
  EXPECT_NE(row, nullptr) << "rejected: " << std::get<ImportRejection>(record).reason;
  return row != nullptr ? *row : kEmpty;
}

ImportRejection RejectionOf(const ImportRecord& record) {
  const ImportRejection* rejection = std::get_if<ImportRejection>(&record);
  EXPECT_NE(rejection, nullptr) << "accepted line " << std::get<ImportRow>(record).line;
  return rejection != nullptr ? *rejection : ImportRejection{};
}

Status HeaderError(const std::string& text) {
  std::istringstream in(text);
  Result<std::unique_ptr<ImportReader>> reader = ImportReader::Create(in, ImportFormat::kCsv);
  return reader.status();
}

ImportRow ValidRow() {
  return ImportRow{.line = 2,
                   .username = "alice",
                   .email = "alice@example.com",
                   .password_hash = kBcrypt2b,
                   .roles = {"user"}};
}

// ------------------------------------------------------------------ formats

TEST(ImportFormatTest, FormatComesFromTheFlagOrTheExtension) {
  EXPECT_EQ(*ParseImportFormat("csv"), ImportFormat::kCsv);
  EXPECT_EQ(*ParseImportFormat("JSONL"), ImportFormat::kJsonl);
  EXPECT_EQ(*ParseImportFormat("ndjson"), ImportFormat::kJsonl);
  EXPECT_EQ(ParseImportFormat("xml").status(),
            InvalidArgumentError("unknown import format (use csv or jsonl)"));
  EXPECT_EQ(*ImportFormatForPath("/tmp/users.CSV"), ImportFormat::kCsv);
  EXPECT_EQ(*ImportFormatForPath("users.jsonl"), ImportFormat::kJsonl);
  EXPECT_EQ(*ImportFormatForPath("users.ndjson"), ImportFormat::kJsonl);
  EXPECT_EQ(ImportFormatForPath("users.txt").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ToString(ImportFormat::kCsv), "csv");
  EXPECT_EQ(ToString(ImportFormat::kJsonl), "jsonl");
}

// ------------------------------------------------------------------ validation

TEST(ValidateImportRowTest, AcceptsEverySupportedHashScheme) {
  for (const char* hash : {kArgon2id, kArgon2i, kBcrypt2a, kBcrypt2b, kBcrypt2y}) {
    ImportRow row = ValidRow();
    row.password_hash = hash;
    EXPECT_TRUE(ValidateImportRow(row).ok()) << hash;
  }
}

TEST(ValidateImportRowTest, RejectsBadFieldsWithoutEchoingTheHash) {
  ImportRow row = ValidRow();
  row.username = "-alice";
  EXPECT_EQ(ValidateImportRow(row),
            InvalidArgumentError("invalid username (use 1-64 characters of A-Z a-z 0-9 . _ @ -, "
                                 "starting with a letter or digit)"));
  row = ValidRow();
  row.username = "";
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("missing username"));
  row = ValidRow();
  row.email = "not-an-email";
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("invalid email"));
  row = ValidRow();
  row.password_hash = "";
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("missing password hash"));
  row = ValidRow();
  row.password_hash = kMd5Crypt;
  EXPECT_EQ(ValidateImportRow(row),
            InvalidArgumentError("unsupported password hash scheme $1$ (accepted: $argon2id$ and "
                                 "$argon2i$ version 19, bcrypt $2a$ $2b$ $2y$)"));
  row.password_hash = "pbkdf2_sha256$260000$salt$hash";  // Django's layout: not crypt-style
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("malformed password hash"));
  row.password_hash = std::string(kBcrypt2b).substr(0, 59);
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("malformed password hash"));
  row = ValidRow();
  row.roles = {"user", "Bad Role"};
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("invalid role name \"Bad Role\""));
  row.roles = {"user", "bad\x1b[31m"};
  EXPECT_EQ(ValidateImportRow(row), InvalidArgumentError("invalid role name"));
}

TEST(ValidateImportRowTest, Argon2dAndVersion16AreUnsupported) {
  ImportRow row = ValidRow();
  row.password_hash =
      "$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0$j4OIOF3XoMLcNdzTVwzkFRFXEQTTWF23hOYInJoSAhc";
  EXPECT_EQ(ValidateImportRow(row).message().rfind("unsupported password hash scheme $argon2d$", 0),
            0u);
}

TEST(SplitRoleListTest, SplitsOnSpacesAndSemicolons) {
  EXPECT_EQ(SplitRoleList("admin;editor viewer ; ;"),
            (std::vector<std::string>{"admin", "editor", "viewer"}));
  EXPECT_EQ(SplitRoleList(""), std::vector<std::string>{});
  EXPECT_EQ(SplitRoleList("  "), std::vector<std::string>{});
}

// ------------------------------------------------------------------ CSV

TEST(CsvImportTest, ReadsRowsWithAnyColumnOrderAndDefaults) {
  const std::string text = std::string("roles,password_hash,username,email\n") + "admin;editor," +
                           kBcrypt2b + ",alice,alice@example.com\n" + ",\"" + kArgon2id +
                           "\",bob,\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 2u);
  const ImportRow& alice = RowOf(records[0]);
  EXPECT_EQ(alice.line, 2u);
  EXPECT_EQ(alice.username, "alice");
  EXPECT_EQ(alice.email, "alice@example.com");
  EXPECT_EQ(alice.password_hash, kBcrypt2b);
  EXPECT_EQ(alice.roles, (std::vector<std::string>{"admin", "editor"}));
  const ImportRow& bob = RowOf(records[1]);
  EXPECT_EQ(bob.line, 3u);
  EXPECT_EQ(bob.email, std::nullopt);
  EXPECT_EQ(bob.roles, std::vector<std::string>{"user"});
}

TEST(CsvImportTest, OptionalColumnsMayBeAbsent) {
  const std::string text =
      std::string("username,password_hash\r\n") + "carol,\"" + kArgon2i + "\"\r\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(RowOf(records[0]).password_hash, kArgon2i);  // CR stripped
  EXPECT_EQ(RowOf(records[0]).roles, std::vector<std::string>{"user"});
}

TEST(CsvImportTest, QuotedFieldsFollowRfc4180) {
  // A quoted roles field spanning two lines, "" escapes, a BOM, CRLF and a blank line.
  const std::string text = std::string("\xEF\xBB\xBF") +
                           "\"username\",email,password_hash,roles\r\n" +
                           "\"dave\",\"dave@example.com\",\"" + kBcrypt2y + "\",\"admin\n" +
                           "editor\"\r\n" + "\r\n" + "erin,,\"" + kBcrypt2a + "\",\"\"\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 2u);
  const ImportRow& dave = RowOf(records[0]);
  EXPECT_EQ(dave.line, 2u);
  EXPECT_EQ(dave.username, "dave");
  EXPECT_EQ(dave.roles, (std::vector<std::string>{"admin", "editor"}));
  const ImportRow& erin = RowOf(records[1]);
  EXPECT_EQ(erin.line, 5u);  // lines 2-3 are dave's record, 4 is blank
  EXPECT_EQ(erin.password_hash, kBcrypt2a);
}

TEST(CsvImportTest, DoubledQuoteInsideAQuotedFieldIsOneQuote) {
  const std::string text =
      std::string("username,password_hash,roles\n") + "frank," + kBcrypt2b + ",\"a\"\"b\"\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(RejectionOf(records[0]), (ImportRejection{2, "invalid role name"}));
}

TEST(CsvImportTest, BadRowsAreRejectedWithLineAndReasonAndReadingGoesOn) {
  const std::string hash = kBcrypt2b;
  const std::string text = std::string("username,email,password_hash,roles\n") +  // 1
                           "-bad,,," + hash + ",user\n" +                         // 2: 5 fields
                           "-bad,," + hash + ",user\n" +                          // 3
                           "gina,,junk-hash,user\n" +                             // 4
                           "hank,," + kMd5Crypt + ",user\n" +                     // 5
                           "ivan,," + hash + "\n" +                     // 6: missing column
                           "judy,x\"y," + hash + ",\n" +                // 7
                           "kate,\"k@example.com\"x," + hash + ",\n" +  // 8
                           "Judy,," + hash + ",\n" +                    // 9: ok
                           "JUDY,," + hash + ",admin\n" +               // 10: duplicate
                           "liam,,\"" + hash + ",user\n";               // 11: never closed
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(RejectionOf(records[0]), (ImportRejection{2, "expected 4 fields, found 5"}));
  EXPECT_EQ(RejectionOf(records[1]).line, 3u);
  EXPECT_EQ(RejectionOf(records[1]).reason.rfind("invalid username", 0), 0u);
  EXPECT_EQ(RejectionOf(records[2]), (ImportRejection{4, "malformed password hash"}));
  EXPECT_EQ(RejectionOf(records[3]).line, 5u);
  EXPECT_EQ(RejectionOf(records[3]).reason.rfind("unsupported password hash scheme $1$", 0), 0u);
  EXPECT_EQ(RejectionOf(records[4]), (ImportRejection{6, "expected 4 fields, found 3"}));
  EXPECT_EQ(RejectionOf(records[5]), (ImportRejection{7, "quote inside an unquoted field"}));
  EXPECT_EQ(RejectionOf(records[6]),
            (ImportRejection{8, "unexpected character after a closing quote"}));
  EXPECT_EQ(RowOf(records[7]).username, "Judy");
  EXPECT_EQ(RejectionOf(records[8]),
            (ImportRejection{10, "duplicate username (first used at line 9)"}));
  EXPECT_EQ(RejectionOf(records[9]), (ImportRejection{11, "unterminated quoted field"}));
  for (const ImportRecord& record : records) {
    if (const auto* rejection = std::get_if<ImportRejection>(&record)) {
      EXPECT_EQ(rejection->reason.find("CCCCCCCC"), std::string::npos) << rejection->reason;
      EXPECT_EQ(rejection->reason.find("saltsalt"), std::string::npos) << rejection->reason;
      EXPECT_EQ(rejection->reason.find("junk-hash"), std::string::npos) << rejection->reason;
    }
  }
}

TEST(CsvImportTest, UnquotedArgon2HashGetsAHint) {
  const std::string text = std::string("username,password_hash\n") + "vic," + kArgon2id + "\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(RejectionOf(records[0]),
            (ImportRejection{2,
                             "expected 2 fields, found 4 (quote Argon2 hashes: they contain "
                             "commas)"}));
}

TEST(CsvImportTest, OverlongRecordIsRejectedAndTheNextOneRead) {
  const std::string text = std::string("username,password_hash\n") + "mia," +
                           std::string(kMaxImportRecordBytes + 10, 'x') + "\n" + "noah," +
                           kBcrypt2b + "\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kCsv);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(RejectionOf(records[0]), (ImportRejection{2, "record longer than 65536 bytes"}));
  EXPECT_EQ(RowOf(records[1]).username, "noah");
}

TEST(CsvImportTest, InvalidHeadersStopTheImport) {
  EXPECT_EQ(HeaderError(""),
            InvalidArgumentError("the file is empty (a CSV import starts with a header line)"));
  EXPECT_EQ(HeaderError("username,email\n"),
            InvalidArgumentError("line 1: missing column \"password_hash\""));
  EXPECT_EQ(HeaderError("\nemail,password_hash\n"),
            InvalidArgumentError("line 2: missing column \"username\""));
  EXPECT_EQ(HeaderError("username,password_hash,full_name\n"),
            InvalidArgumentError("line 1: unknown column \"full_name\" (columns: username, email, "
                                 "password_hash, roles)"));
  EXPECT_EQ(HeaderError("username,password_hash,Username\n"),
            InvalidArgumentError("line 1: column \"username\" appears twice"));
  EXPECT_EQ(HeaderError("username,\"password_hash\n"),
            InvalidArgumentError("line 1: header: unterminated quoted field"));
  // Header names are case-insensitive and may carry spaces around them.
  EXPECT_TRUE(HeaderError("Username , PASSWORD_HASH\n").ok());
}

// ------------------------------------------------------------------ JSONL

TEST(JsonlImportTest, ReadsObjectsWithOptionalFields) {
  const std::string text =
      std::string("{\"username\":\"olga\",\"email\":\"olga@example.com\",\"password_hash\":\"") +
      kArgon2id + "\",\"roles\":[\"editor\",\"admin\",\"editor\"]}\n" + "\n" +
      "{\"password_hash\":\"" + kBcrypt2b + "\",\"username\":\"pat\",\"email\":null}\n" +
      "{\"username\":\"quinn\",\"password_hash\":\"" + kBcrypt2y + "\",\"roles\":[]}\n" +
      "{\"username\":\"ravi\",\"password_hash\":\"" + kBcrypt2a + "\",\"roles\":null}";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kJsonl);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(RowOf(records[0]).line, 1u);
  EXPECT_EQ(RowOf(records[0]).email, "olga@example.com");
  EXPECT_EQ(RowOf(records[0]).roles, (std::vector<std::string>{"admin", "editor"}));
  EXPECT_EQ(RowOf(records[1]).line, 3u);
  EXPECT_EQ(RowOf(records[1]).email, std::nullopt);
  EXPECT_EQ(RowOf(records[1]).roles, std::vector<std::string>{"user"});
  EXPECT_EQ(RowOf(records[2]).roles, std::vector<std::string>{});  // [] = no role
  EXPECT_EQ(RowOf(records[3]).roles, std::vector<std::string>{"user"});
}

TEST(JsonlImportTest, BadObjectsAreRejectedWithLineAndReason) {
  const std::string hash = kBcrypt2b;
  const std::string text =
      "{\"username\":\"sam\",\"password_hash\":\"" + hash + "\"\n" +                       // 1
      "[1,2]\n" +                                                                          // 2
      "{\"username\":\"sam\"}\n" +                                                         // 3
      "{\"password_hash\":\"" + hash + "\"}\n" +                                           // 4
      "{\"username\":7,\"password_hash\":\"" + hash + "\"}\n" +                            // 5
      "{\"username\":\"sam\",\"password_hash\":\"" + hash + "\",\"roles\":\"a\"}\n" +      // 6
      "{\"username\":\"sam\",\"password_hash\":\"" + hash + "\",\"is_active\":true}\n" +   // 7
      "{\"username\":\"sam\",\"password_hash\":\"" + kMd5Crypt + "\"}\n" +                 // 8
      "{\"username\":\"sam\",\"password_hash\":\"" + hash + "\",\"email\":1}\n" +          // 9
      "{\"username\":\"sam\",\"username\":\"tom\",\"password_hash\":\"" + hash + "\"}\n";  // 10
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kJsonl);
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(RejectionOf(records[0]).line, 1u);
  EXPECT_EQ(RejectionOf(records[0]).reason.rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(RejectionOf(records[1]), (ImportRejection{2, "not a JSON object"}));
  EXPECT_EQ(RejectionOf(records[2]), (ImportRejection{3, "missing \"password_hash\""}));
  EXPECT_EQ(RejectionOf(records[3]), (ImportRejection{4, "missing \"username\""}));
  EXPECT_EQ(RejectionOf(records[4]), (ImportRejection{5, "\"username\" must be a string"}));
  EXPECT_EQ(RejectionOf(records[5]), (ImportRejection{6, "\"roles\" must be an array of strings"}));
  EXPECT_EQ(RejectionOf(records[6]),
            (ImportRejection{7,
                             "unknown field \"is_active\" (fields: username, email, "
                             "password_hash, roles)"}));
  EXPECT_EQ(RejectionOf(records[7]).line, 8u);
  EXPECT_EQ(RejectionOf(records[7]).reason.rfind("unsupported password hash scheme $1$", 0), 0u);
  EXPECT_EQ(RejectionOf(records[8]), (ImportRejection{9, "\"email\" must be a string or null"}));
  EXPECT_EQ(RejectionOf(records[9]).line, 10u);
  EXPECT_EQ(RejectionOf(records[9]).reason.rfind("invalid JSON: duplicate key", 0), 0u);
  for (const ImportRecord& record : records) {
    EXPECT_EQ(RejectionOf(record).reason.find("CCCCCCCC"), std::string::npos);
    EXPECT_EQ(RejectionOf(record).reason.find("saltsalt"), std::string::npos);
  }
}

TEST(JsonlImportTest, DuplicateUsernamesCompareCaseInsensitively) {
  const std::string text = std::string("{\"username\":\"Uma\",\"password_hash\":\"") + kBcrypt2b +
                           "\"}\n{\"username\":\"uma\",\"password_hash\":\"" + kArgon2id + "\"}\n";
  std::vector<ImportRecord> records = ReadAll(text, ImportFormat::kJsonl);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(RowOf(records[0]).username, "Uma");
  EXPECT_EQ(RejectionOf(records[1]),
            (ImportRejection{2, "duplicate username (first used at line 1)"}));
}

// ------------------------------------------------------------------ progress

TEST(ImportProgressTest, FormatsBarPercentRowsAndTime) {
  EXPECT_EQ(FormatImportProgress(0.5, 51234, 102468, 12.34s),
            "[###############               ]  50% 51234/102468 rows  12.3 s");
  EXPECT_EQ(FormatImportProgress(1.5, 7, std::nullopt, 0.0s),
            "[##############################] 100% 7 rows  0.0 s");
  EXPECT_EQ(FormatImportProgress(-1.0, 0, 0, 0.06s),
            "[                              ]   0% 0/0 rows  0.1 s");
}

}  // namespace
}  // namespace portcullis::admin
