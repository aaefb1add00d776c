#include "admin/user_import.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <utility>

#include "admin/directory.h"
#include "authn/username.h"
#include "base/json.h"
#include "password/hasher.h"
#include "store/store.h"

namespace portcullis::admin {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
// A value is quoted in a reason only when it is this short and printable ASCII.
constexpr std::size_t kMaxQuotedBytes = 64;
// JSONL objects are flat apart from the roles array.
constexpr std::size_t kMaxJsonDepth = 4;
constexpr std::size_t kProgressBarWidth = 30;

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// ` "value"` when `value` is short printable ASCII without quotes, else "" (so a reason never
// carries control characters, terminal escapes or long junk).
std::string QuotedIfPrintable(std::string_view value) {
  if (value.empty() || value.size() > kMaxQuotedBytes) return "";
  for (char c : value) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return "";
  }
  return " \"" + std::string(value) + "\"";
}

// The crypt(3) scheme id of a hash ("1" for "$1$...", "argon2id"), if it looks like one; safe
// to show: an id, not hash material.
std::string SchemeId(std::string_view hash) {
  constexpr std::size_t kMaxSchemeIdLength = 16;
  if (!hash.starts_with('$')) return "";
  const std::size_t end = hash.find('$', 1);
  if (end == std::string_view::npos || end == 1 || end > kMaxSchemeIdLength) return "";
  const std::string_view id = hash.substr(1, end - 1);
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return "";
  }
  return std::string(id);
}

ImportRejection Reject(std::size_t line, std::string reason) {
  return ImportRejection{.line = line, .reason = std::move(reason)};
}

// One CSV record split into fields (RFC 4180 §2), or why it cannot be.
struct CsvFields {
  std::vector<std::string> fields;
  std::string error;  // empty on success
};

}  // namespace

std::string_view ToString(ImportFormat format) {
  switch (format) {
    case ImportFormat::kCsv:
      return "csv";
    case ImportFormat::kJsonl:
      return "jsonl";
  }
  return "unknown";
}

Result<ImportFormat> ParseImportFormat(std::string_view name) {
  const std::string lower = AsciiLower(name);
  if (lower == "csv") return ImportFormat::kCsv;
  if (lower == "jsonl" || lower == "ndjson") return ImportFormat::kJsonl;
  return InvalidArgumentError("unknown import format (use csv or jsonl)");
}

Result<ImportFormat> ImportFormatForPath(std::string_view path) {
  const std::string lower = AsciiLower(path);
  if (lower.ends_with(".csv")) return ImportFormat::kCsv;
  if (lower.ends_with(".jsonl") || lower.ends_with(".ndjson")) return ImportFormat::kJsonl;
  return InvalidArgumentError(
      "cannot tell the format from the file name (expected .csv, .jsonl or .ndjson); use "
      "--format csv|jsonl");
}

std::vector<std::string> SplitRoleList(std::string_view field) {
  std::vector<std::string> out;
  std::string current;
  for (char c : field) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

Status ValidateImportRow(const ImportRow& row) {
  if (row.username.empty()) return InvalidArgumentError("missing username");
  if (!authn::IsValidUsername(row.username)) {
    return InvalidArgumentError(
        "invalid username (use 1-64 characters of A-Z a-z 0-9 . _ @ -, starting with a letter or "
        "digit)");
  }
  if (row.email && !IsValidEmail(*row.email)) return InvalidArgumentError("invalid email");
  if (row.password_hash.empty()) return InvalidArgumentError("missing password hash");
  switch (password::ClassifyHash(row.password_hash)) {
    case password::HashKind::kArgon2id:
    case password::HashKind::kArgon2i:
    case password::HashKind::kBcrypt:
      break;
    case password::HashKind::kUnsupportedScheme: {
      const std::string id = SchemeId(row.password_hash);
      return InvalidArgumentError(
          "unsupported password hash scheme" + (id.empty() ? "" : " $" + id + "$") +
          " (accepted: $argon2id$ and $argon2i$ version 19, bcrypt $2a$ $2b$ $2y$)");
    }
    case password::HashKind::kMalformed:
      return InvalidArgumentError("malformed password hash");
  }
  for (const std::string& role : row.roles) {
    if (!IsValidRoleName(role))
      return InvalidArgumentError("invalid role name" + QuotedIfPrintable(role));
  }
  return Status::Ok();
}

Result<std::unique_ptr<ImportReader>> ImportReader::Create(std::istream& in, ImportFormat format) {
  std::unique_ptr<ImportReader> reader(new ImportReader(in, format));
  if (format == ImportFormat::kCsv) {
    if (Status s = reader->ReadCsvHeader(); !s.ok()) return s;
  }
  return reader;
}

bool ImportReader::ReadLine(std::string& line) {
  line.clear();
  std::streambuf* buf = in_.rdbuf();
  if (buf == nullptr || !in_.good()) return false;
  bool any = false;
  while (true) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in_.setstate(std::ios::eofbit);
      break;
    }
    any = true;
    ++bytes_read_;
    if (c == '\n') break;
    // Past the limit keep consuming to the end of the line, but stop storing: the caller
    // rejects the record by its size.
    if (line.size() <= kMaxImportRecordBytes) line.push_back(static_cast<char>(c));
  }
  if (!any) return false;
  ++line_;
  if (line_ == 1 && line.starts_with(kUtf8Bom)) line.erase(0, kUtf8Bom.size());
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

namespace {

// Splits the record starting with `first` into fields, pulling further lines through `more` while
// a quoted field is open. Stops at kMaxImportRecordBytes.
template <typename MoreLines>
CsvFields SplitCsvRecord(std::string first, MoreLines&& more) {
  CsvFields out;
  std::string text = std::move(first);
  std::size_t record_bytes = text.size();
  std::string field;
  std::size_t i = 0;
  bool in_quotes = false;
  bool after_quote = false;  // the current field's closing quote was seen
  bool field_fresh = true;   // nothing of the current field read yet
  while (true) {
    if (record_bytes > kMaxImportRecordBytes) {
      out.error = "record longer than " + std::to_string(kMaxImportRecordBytes) + " bytes";
      return out;
    }
    if (i == text.size()) {
      if (!in_quotes) {
        out.fields.push_back(std::move(field));
        return out;
      }
      // RFC 4180 §2.6: a quoted field may contain line breaks.
      std::optional<std::string> next = more();
      if (!next) {
        out.error = "unterminated quoted field";
        return out;
      }
      field += '\n';
      text = std::move(*next);
      record_bytes += text.size() + 1;
      i = 0;
      continue;
    }
    const char c = text[i++];
    if (in_quotes) {
      if (c != '"') {
        field += c;
      } else if (i < text.size() && text[i] == '"') {
        field += '"';  // RFC 4180 §2.7: "" is one quote
        ++i;
      } else {
        in_quotes = false;
        after_quote = true;
      }
      continue;
    }
    if (c == ',') {
      out.fields.push_back(std::move(field));
      field.clear();
      after_quote = false;
      field_fresh = true;
      continue;
    }
    if (after_quote) {
      out.error = "unexpected character after a closing quote";
      return out;
    }
    if (c == '"') {
      if (!field_fresh) {
        out.error = "quote inside an unquoted field";
        return out;
      }
      in_quotes = true;
      field_fresh = false;
      continue;
    }
    field += c;
    field_fresh = false;
  }
}

}  // namespace

Status ImportReader::ReadCsvHeader() {
  std::string line;
  while (true) {
    if (!ReadLine(line)) {
      if (in_.bad()) return InternalError("cannot read the input");
      return InvalidArgumentError("the file is empty (a CSV import starts with a header line)");
    }
    if (!IsBlank(line)) break;
  }
  const std::size_t header_line = line_;
  CsvFields header = SplitCsvRecord(std::move(line), [this]() -> std::optional<std::string> {
    std::string next;
    if (!ReadLine(next)) return std::nullopt;
    return next;
  });
  const std::string where = "line " + std::to_string(header_line) + ": ";
  if (!header.error.empty()) return InvalidArgumentError(where + "header: " + header.error);
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name = AsciiLower(TrimSpaces(header.fields[i]));
    int* column = nullptr;
    if (name == "username") column = &username_col_;
    if (name == "email") column = &email_col_;
    if (name == "password_hash") column = &hash_col_;
    if (name == "roles") column = &roles_col_;
    if (column == nullptr) {
      return InvalidArgumentError(where + "unknown column" + QuotedIfPrintable(name) +
                                  " (columns: username, email, password_hash, roles)");
    }
    if (*column != -1) {
      return InvalidArgumentError(where + "column \"" + name + "\" appears twice");
    }
    *column = static_cast<int>(i);
  }
  if (username_col_ == -1) return InvalidArgumentError(where + "missing column \"username\"");
  if (hash_col_ == -1) return InvalidArgumentError(where + "missing column \"password_hash\"");
  columns_ = header.fields.size();
  return Status::Ok();
}

std::optional<ImportRecord> ImportReader::Next() {
  return format_ == ImportFormat::kCsv ? NextCsv() : NextJsonl();
}

std::optional<ImportRecord> ImportReader::NextCsv() {
  std::string line;
  do {
    if (!ReadLine(line)) return std::nullopt;
  } while (IsBlank(line));
  const std::size_t start = line_;
  CsvFields record = SplitCsvRecord(std::move(line), [this]() -> std::optional<std::string> {
    std::string next;
    if (!ReadLine(next)) return std::nullopt;
    return next;
  });
  if (!record.error.empty()) return Reject(start, record.error);
  if (record.fields.size() != columns_) {
    // Argon2 PHC strings contain commas ("m=19456,t=2,p=1"): a common mistake.
    const bool unquoted_argon2 =
        std::any_of(record.fields.begin(), record.fields.end(),
                    [](const std::string& f) { return f.starts_with("$argon2"); });
    return Reject(start,
                  "expected " + std::to_string(columns_) + " fields, found " +
                      std::to_string(record.fields.size()) +
                      (unquoted_argon2 ? " (quote Argon2 hashes: they contain commas)" : ""));
  }
  auto field = [&record](int column) -> std::string& {
    return record.fields[static_cast<std::size_t>(column)];
  };
  ImportRow row;
  row.line = start;
  row.username = std::move(field(username_col_));
  row.password_hash = std::move(field(hash_col_));
  if (email_col_ != -1 && !field(email_col_).empty()) row.email = std::move(field(email_col_));
  if (roles_col_ != -1) row.roles = SplitRoleList(field(roles_col_));
  if (row.roles.empty()) row.roles.emplace_back(kImportDefaultRole);
  return Finish(std::move(row));
}

std::optional<ImportRecord> ImportReader::NextJsonl() {
  std::string line;
  do {
    if (!ReadLine(line)) return std::nullopt;
  } while (IsBlank(line));
  const std::size_t start = line_;
  if (line.size() > kMaxImportRecordBytes) {
    return Reject(start, "record longer than " + std::to_string(kMaxImportRecordBytes) + " bytes");
  }
  Result<boost::json::value> parsed =
      ParseJson(line, JsonLimits{.max_bytes = kMaxImportRecordBytes, .max_depth = kMaxJsonDepth});
  // ParseJson's messages may quote a member name but never a string value.
  if (!parsed.ok()) return Reject(start, "invalid JSON: " + parsed.status().message());
  if (!parsed->is_object()) return Reject(start, "not a JSON object");

  ImportRow row;
  row.line = start;
  bool has_username = false, has_hash = false, has_roles = false;
  for (const auto& [key, value] : parsed->as_object()) {
    if (key == "username" || key == "password_hash") {
      if (!value.is_string()) return Reject(start, "\"" + std::string(key) + "\" must be a string");
      std::string text(value.as_string());
      if (key == "username") {
        row.username = std::move(text);
        has_username = true;
      } else {
        row.password_hash = std::move(text);
        has_hash = true;
      }
    } else if (key == "email") {
      if (value.is_null()) continue;
      if (!value.is_string()) return Reject(start, "\"email\" must be a string or null");
      row.email = std::string(value.as_string());
    } else if (key == "roles") {
      if (value.is_null()) continue;
      if (!value.is_array()) return Reject(start, "\"roles\" must be an array of strings");
      for (const boost::json::value& role : value.as_array()) {
        if (!role.is_string()) return Reject(start, "\"roles\" must be an array of strings");
        row.roles.emplace_back(role.as_string());
      }
      has_roles = true;
    } else {
      return Reject(start, "unknown field" + QuotedIfPrintable(key) +
                               " (fields: username, email, password_hash, roles)");
    }
  }
  if (!has_username) return Reject(start, "missing \"username\"");
  if (!has_hash) return Reject(start, "missing \"password_hash\"");
  if (!has_roles) row.roles.emplace_back(kImportDefaultRole);
  return Finish(std::move(row));
}

ImportRecord ImportReader::Finish(ImportRow row) {
  if (Status s = ValidateImportRow(row); !s.ok()) return Reject(row.line, s.message());
  row.roles = SortedUnique(std::move(row.roles));
  auto [it, inserted] = seen_.emplace(store::NormalizeUsername(row.username), row.line);
  if (!inserted) {
    return Reject(row.line,
                  "duplicate username (first used at line " + std::to_string(it->second) + ")");
  }
  return row;
}

std::string FormatImportProgress(double fraction, std::size_t rows,
                                 std::optional<std::size_t> total_rows,
                                 std::chrono::duration<double> elapsed) {
  if (!(fraction >= 0.0)) fraction = 0.0;  // NaN too
  fraction = std::min(fraction, 1.0);
  const auto filled =
      static_cast<std::size_t>(std::floor(fraction * static_cast<double>(kProgressBarWidth)));
  std::string out = "[";
  out.append(filled, '#');
  out.append(kProgressBarWidth - filled, ' ');
  out += "] ";
  char buf[96];
  const int percent = static_cast<int>(std::floor(fraction * 100.0));
  std::snprintf(buf, sizeof(buf), "%3d%% ", percent);
  out += buf;
  out += std::to_string(rows);
  if (total_rows) out += "/" + std::to_string(*total_rows);
  std::snprintf(buf, sizeof(buf), " rows  %.1f s", elapsed.count());
  out += buf;
  return out;
}

}  // namespace portcullis::admin
