#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace portcullis::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kJson};

// Where lines go: stderr. Lines of WriteBatched (the access log) below warn are appended to a
// buffer that one writer thread hands to write(2) whenever it is idle, so a request never waits for
// the terminal or the journal and a burst of lines costs one system call. Warn and error lines are
// written by the caller before Write returns (with everything queued before them, in order), as is
// the queue at exit (atexit) and on Flush. The buffer is bounded: a writer that falls behind makes
// callers wait rather than lose lines.
class Sink {
 public:
  static Sink& Get() {
    static Sink* sink = [] {
      auto* s = new Sink;  // never destroyed: the writer thread may outlive static destructors
      std::atexit([] { Sink::Get().Flush(); });
      return s;
    }();
    return *sink;
  }

  void Enqueue(std::string_view line, bool now) {
    if (now) {
      std::lock_guard io(io_mu_);
      {
        std::lock_guard lock(mu_);
        Append(line);
        batch_.swap(pending_);
      }
      space_.notify_all();
      WriteBatch();
      return;
    }
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return pending_.size() < kMaxPendingBytes; });
    Append(line);
    if (!started_) {
      started_ = true;
      std::thread([this] { Run(); }).detach();
    } else if (writer_waiting_) {
      wake_.notify_one();
    }
  }

  void Flush() {
    std::lock_guard io(io_mu_);
    {
      std::lock_guard lock(mu_);
      batch_.swap(pending_);
    }
    space_.notify_all();
    WriteBatch();
  }

 private:
  static constexpr std::size_t kMaxPendingBytes = 8 << 20;
  static constexpr auto kBatchWindow = std::chrono::milliseconds(1);

  void Append(std::string_view line) {
    pending_.append(line);
    pending_.push_back('\n');
  }

  void Run() {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        writer_waiting_ = true;
        wake_.wait(lock, [&] { return !pending_.empty(); });
        writer_waiting_ = false;
      }
      Flush();
      // Lines arriving in the next millisecond join one batch without waking this thread: at
      // tens of thousands of requests a second, one write (and no futex) per ~millisecond.
      std::this_thread::sleep_for(kBatchWindow);
    }
  }

  // Writes batch_ (guarded by io_mu_) and empties it, keeping its capacity.
  void WriteBatch() {
    const char* p = batch_.data();
    std::size_t left = batch_.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nowhere to write: drop rather than spin
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    batch_.clear();
  }

  std::mutex io_mu_;   // held while writing: batches reach stderr in order
  std::string batch_;  // guarded by io_mu_
  std::mutex mu_;
  std::condition_variable wake_, space_;
  std::string pending_;          // guarded by mu_
  bool started_ = false;         // guarded by mu_
  bool writer_waiting_ = false;  // guarded by mu_
};

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

void AppendValue(std::string& out, const Field::Value& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) {
    AppendJsonString(out, *s);
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out += std::to_string(*i);
  } else if (const auto* m = std::get_if<Micros>(&v)) {
    // Milliseconds with three decimals, from integer microseconds (no floating point).
    std::int64_t us = m->us;
    if (us < 0) {
      out += '-';
      us = -us;
    }
    out += std::to_string(us / 1000);
    out += '.';
    const auto frac = static_cast<int>(us % 1000);
    out += static_cast<char>('0' + frac / 100);
    out += static_cast<char>('0' + frac / 10 % 10);
    out += static_cast<char>('0' + frac % 10);
  } else if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", *d);
    out += buf;
  } else {
    out += std::get<bool>(v) ? "true" : "false";
  }
}

std::string FormatLine(Level level, std::string_view event, std::initializer_list<Field> fields,
                       bool with_time) {
  std::string out;
  out.reserve(160);
  if (g_format.load() == Format::kText) {
    out += LevelName(level);
    out += ' ';
    out += event;
    for (const Field& f : fields) {
      out += ' ';
      out += f.key;
      out += '=';
      AppendValue(out, f.value);
    }
    return out;
  }
  out += '{';
  if (with_time) {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    // "YYYY-MM-DDTHH:MM:SS." formatted once per second per thread.
    thread_local std::time_t cached_secs = -1;
    thread_local char cached[80] = {};
    if (secs != cached_secs) {
      std::tm tm{};
      gmtime_r(&secs, &tm);
      std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
      cached_secs = secs;
    }
    const auto milli = static_cast<int>(ms % 1000);
    out += "\"ts\":\"";
    out += cached;
    out += static_cast<char>('0' + milli / 100);
    out += static_cast<char>('0' + milli / 10 % 10);
    out += static_cast<char>('0' + milli % 10);
    out += "Z\",";
  }
  out += "\"level\":\"";
  out += LevelName(level);
  out += "\",\"event\":";
  AppendJsonString(out, event);
  for (const Field& f : fields) {
    out += ',';
    AppendJsonString(out, f.key);
    out += ':';
    AppendValue(out, f.value);
  }
  out += '}';
  return out;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (std::size_t n = Utf8SequenceLength(s, i); n != 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  out += '"';
}

void Init(Level level, Format format) {
  g_level.store(level);
  g_format.store(format);
  Sink::Get();
}

bool ParseLevel(std::string_view text, Level& out) {
  if (text == "debug")
    out = Level::kDebug;
  else if (text == "info")
    out = Level::kInfo;
  else if (text == "warn")
    out = Level::kWarn;
  else if (text == "error")
    out = Level::kError;
  else
    return false;
  return true;
}

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  Sink::Get().Enqueue(FormatLine(level, event, fields, /*with_time=*/true), /*now=*/true);
}

void WriteBatched(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  Sink::Get().Enqueue(FormatLine(level, event, fields, /*with_time=*/true),
                      /*now=*/level >= Level::kWarn);
}

void Flush() { Sink::Get().Flush(); }

std::string FormatForTesting(Level level, std::string_view event,
                             std::initializer_list<Field> fields) {
  return FormatLine(level, event, fields, /*with_time=*/false);
}

}  // namespace portcullis::log
