// Structured logging: one JSON object per line on stderr, written before Write returns.
// WriteBatched (the access log: a line per request) hands info and debug lines to a background
// writer instead, which writes them in batches (a request never waits for stderr); anything
// written later with Write comes after them, and Flush and process exit write what is queued.
//
//   log::Info("login.failed", {{"user_id", id}, {"client_ip", ip}, {"reason", 3}});
//   -> {"ts":"2026-11-29T01:02:03.456Z","level":"info","event":"login.failed","user_id":...}
//
// Never pass a secret (password, token, key, client secret) as a field value: there is no
// redaction pass, by design the callers never hand one over.
//
// Thread-safety: all functions may be called from any thread after Init.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace portcullis::log {

enum class Level : std::uint8_t { kDebug, kInfo, kWarn, kError };
enum class Format : std::uint8_t { kJson, kText };

// A duration in integer microseconds, logged as milliseconds with three decimals (a JSON number).
struct Micros {
  std::int64_t us = 0;
};

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, double, bool, Micros>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, Micros v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

// Configures level and format. Safe to call more than once (the CLI calls it early with defaults,
// then again after the configuration is loaded).
void Init(Level level, Format format);
bool ParseLevel(std::string_view text, Level& out);

void Write(Level level, std::string_view event, std::initializer_list<Field> fields);
// Like Write, but below warn the line is queued for the background writer (see above).
void WriteBatched(Level level, std::string_view event, std::initializer_list<Field> fields);
// Writes every queued line now (before a graceful exit, or when a test reads the log).
void Flush();
inline void Debug(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, e, f);
}
inline void Info(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, e, f);
}
inline void Warn(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, e, f);
}
inline void Error(std::string_view e, std::initializer_list<Field> f = {}) {
  Write(Level::kError, e, f);
}

// The line Write would emit, without the timestamp; for tests.
std::string FormatForTesting(Level level, std::string_view event,
                             std::initializer_list<Field> fields);

// Appends `s` to `out` as a JSON string literal (quotes included), escaping control characters
// and replacing invalid UTF-8 with U+FFFD so a log line is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace portcullis::log
