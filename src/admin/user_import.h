// Reading and validating the rows of `portcullis user import FILE` (issue #6): users migrated from
// another application (typically a FastAPI app using passlib, argon2-cffi or bcrypt) together
// with their existing password hashes. This module is pure: it turns bytes into ImportRows or
// ImportRejections; the command (src/cli/import_command.cc) batches the rows into
// store::UserStore::ImportUsers.
//
// Formats (chosen with --format, else by the file extension: .csv, .jsonl / .ndjson):
//
//   CSV (RFC 4180): the first record is a header naming the columns, in any order:
//       username,email,password_hash,roles
//     `username` and `password_hash` are required, `email` and `roles` optional; any other column
//     name, or a column named twice, makes the header invalid (the whole import stops before
//     anything is written, so a typo never drops data silently). Fields may be quoted with '"'
//     ('""' inside a quoted field is one quote; a quoted field may span lines); records end with
//     LF or CRLF; a UTF-8 byte order mark before the header is skipped; blank lines are skipped.
//     `roles` holds role names separated by whitespace and/or ';' ("admin;editor", "admin
//     editor"). Argon2 hashes contain commas, so their field must be quoted (Python's csv module
//     does that by itself).
//     An empty `email` means none; an empty `roles` means the default role "user".
//   JSONL: one JSON object per line (parsed strictly, see base/json.h):
//       {"username": "alice", "email": "a@example.com", "password_hash": "$2b$12$...",
//        "roles": ["admin", "editor"]}
//     "email" (string or null) and "roles" (array of strings, or null) may be absent; an absent
//     or null "roles" means the default role "user", [] means no role. Any other member rejects
//     the row. Blank lines are skipped.
//
// Accepted hashes (password::IsSupportedHash): Argon2id and Argon2i PHC strings version 19 with
// any parameters password::ParsePhc accepts, and bcrypt "$2a$", "$2b$", "$2y$". They are stored
// as they are; bcrypt, Argon2i and Argon2id with other parameters are rehashed to the current
// Argon2id at the user's next successful login (audited as "password.rehashed").
//
// Each rejection names the line where its record starts (1-based, counting every line of the
// file, header included) and a reason. Reasons never contain the password hash, nor any other
// field value except role names and JSON member names, quoted and only when they are printable
// ASCII of at most 64 characters.
//
// Thread-safety: ImportReader is a single-threaded cursor; the free functions are pure.
//
//   std::ifstream in(path, std::ios::binary);
//   Result<std::unique_ptr<ImportReader>> reader = ImportReader::Create(in, ImportFormat::kCsv);
//   if (!reader.ok()) return reader.status();  // bad header
//   while (std::optional<ImportRecord> record = (*reader)->Next()) {
//     if (auto* row = std::get_if<ImportRow>(&*record)) { ... } else { ... }
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/status.h"

namespace portcullis::admin {

enum class ImportFormat : std::uint8_t { kCsv = 0, kJsonl = 1 };

// "csv" or "jsonl".
std::string_view ToString(ImportFormat format);

// The format named by --format: "csv", "jsonl" or "ndjson". kInvalidArgument otherwise.
Result<ImportFormat> ParseImportFormat(std::string_view name);

// The format implied by the extension of `path` (".csv", ".jsonl", ".ndjson", ASCII
// case-insensitive). kInvalidArgument ("cannot tell the format ... use --format") otherwise.
Result<ImportFormat> ImportFormatForPath(std::string_view path);

// The role given to rows that name none.
inline constexpr std::string_view kImportDefaultRole = "user";
// Longest accepted record (a CSV record across all its lines, or one JSONL line), in bytes.
inline constexpr std::size_t kMaxImportRecordBytes = 64 * 1024;

// A row that parsed and passed ValidateImportRow.
struct ImportRow {
  std::size_t line = 0;  // where the record starts, 1-based
  std::string username;
  std::optional<std::string> email;
  std::string password_hash;
  std::vector<std::string> roles;  // sorted, unique; {"user"} when the row named none
};

// A row that was not imported, and why.
struct ImportRejection {
  std::size_t line = 0;
  std::string reason;  // e.g. "invalid username"; never contains the password hash

  friend bool operator==(const ImportRejection&, const ImportRejection&) = default;
};

// One record of the input: a valid row or a rejection.
using ImportRecord = std::variant<ImportRow, ImportRejection>;

// Checks one row: the username (authn::IsValidUsername), the email if present
// (admin::IsValidEmail), the hash (password::ClassifyHash: supported scheme, well-formed) and each
// role name (admin::IsValidRoleName). Whether the roles exist is the store's business. Returns
// kInvalidArgument whose message is the rejection reason.
Status ValidateImportRow(const ImportRow& row);

// Splits a CSV `roles` field on spaces, tabs, line breaks and ';', dropping empty pieces.
std::vector<std::string> SplitRoleList(std::string_view field);

// Reads records one at a time from a stream, validating each row and rejecting a username that
// an earlier valid row of the same input already used (compared with store::NormalizeUsername).
class ImportReader {
 public:
  // A reader of `in` (which must outlive it). For CSV reads and checks the header now:
  // kInvalidArgument for an empty input, a missing username or password_hash column, an unknown
  // or repeated column; kInternal if the stream fails.
  static Result<std::unique_ptr<ImportReader>> Create(std::istream& in, ImportFormat format);

  // The next record, or nullopt at the end of the input. A record that cannot be parsed (bad
  // quoting, wrong number of fields, invalid JSON, wrong member types, too long) or that fails
  // validation comes back as an ImportRejection; reading goes on after it.
  std::optional<ImportRecord> Next();

  // Bytes consumed so far (for a progress bar).
  std::uint64_t bytes_read() const { return bytes_read_; }

  // True if the stream failed with an I/O error (not at a normal end of file).
  bool io_error() const { return in_.bad(); }

 private:
  ImportReader(std::istream& in, ImportFormat format) : in_(in), format_(format) {}

  Status ReadCsvHeader();
  // Reads one physical line without its line ending; false at end of input.
  bool ReadLine(std::string& line);
  std::optional<ImportRecord> NextCsv();
  std::optional<ImportRecord> NextJsonl();
  // Validates `row` and checks it against earlier usernames.
  ImportRecord Finish(ImportRow row);

  std::istream& in_;
  ImportFormat format_;
  std::size_t line_ = 0;  // number of the last line read
  std::uint64_t bytes_read_ = 0;
  // Column index of each field of ImportRow in a CSV record; -1 when absent.
  int username_col_ = -1, email_col_ = -1, hash_col_ = -1, roles_col_ = -1;
  std::size_t columns_ = 0;
  // Normalized username -> line of the first valid row using it.
  std::unordered_map<std::string, std::size_t> seen_;
};

// One line of the import progress bar, without the leading '\r':
//   "[#####     ]  50% 51234/102468 rows  12.3 s"
// `fraction` in [0, 1] fills the bar (clamped); `total_rows` is omitted when unknown.
std::string FormatImportProgress(double fraction, std::size_t rows,
                                 std::optional<std::size_t> total_rows,
                                 std::chrono::duration<double> elapsed);

}  // namespace portcullis::admin
