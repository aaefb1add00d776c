// RFC 3339 timestamps for JSON output ("2026-11-29T01:02:03Z"), always UTC.
#pragma once

#include <ctime>
#include <string>

#include "base/clock.h"

namespace portcullis {

inline std::string FormatRfc3339(UnixSeconds t) {
  std::time_t secs = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace portcullis
