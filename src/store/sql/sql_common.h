// Backend-independent helpers of the SQL stores (store/sql/sql_store.h): value encodings, page
// arithmetic, cursor checks and the one migration record type. Internal to store/.
//
// Thread-safety: pure functions and immutable data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace portcullis::store::sql {

// One schema migration, embedded into the binary at build time from
// store/<backend>/migrations/NNNN_name.sql (see store/CMakeLists.txt). Both backends number their
// migrations alike: version N brings either schema to the same logical state.
struct Migration {
  int version;            // NNNN from the file name; 1, 2, 3, ... without gaps
  std::string_view name;  // the file name, e.g. "0001_init.sql"
  std::string_view sql;   // statements to run inside one transaction (no BEGIN/COMMIT)
};

bool IsValidKeyState(std::string_view state);

// `status` with "<context>: " in front of its message.
Status WithContext(const Status& status, std::string_view context);

Status NewerSchemaError(int current, int latest);

// A JSON array of strings as text, in the given order.
std::string StringsToJson(const std::vector<std::string>& values);

// The inverse of StringsToJson; kInternal (naming `column`) if the text is not an array of
// strings.
Result<std::vector<std::string>> StringsFromJson(std::string_view text, std::string_view column);

// Sorted and without duplicates.
std::vector<std::string> SortedUnique(std::vector<std::string> values);

// The smallest string greater than every string starting with `prefix` (bytewise), or nullopt
// when there is none. For well-formed UTF-8 the bound is well-formed UTF-8 too (the next code
// point after the last one, U+10FFFF carried over); other bytes are incremented bytewise.
std::optional<std::string> PrefixUpperBound(std::string prefix);

// A user page cursor is the last username_normalized of the previous page, so one holding an
// upper-case ASCII letter (which NormalizeUsername folds) or a NUL byte was not made by us.
bool IsWellFormedUserCursor(std::string_view cursor);

// A row count as the int the ports return, saturating.
int ChangesAsInt(std::int64_t changes);

// The LIMIT for a page of `limit` items plus one extra row telling whether another page follows.
std::int64_t PageFetchLimit(std::size_t limit);

}  // namespace portcullis::store::sql
