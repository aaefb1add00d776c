#include "config/load.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

#include "authz/forward_auth.h"
#include "authz/permission.h"

extern char** environ;  // POSIX; no standard header declares it.

namespace portcullis::config {
namespace {

constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();
// Upper bounds that keep time arithmetic (now + ttl) far from overflow and catch unit mistakes.
constexpr std::int64_t kTenYearsS = 10LL * 365 * 24 * 3600;
constexpr std::int64_t kThirtyDaysS = 30LL * 24 * 3600;
constexpr std::int64_t kOneDayS = 24LL * 3600;
constexpr std::int64_t kOneHourMs = 3600LL * 1000;
constexpr std::int64_t kOneDayMs = kOneDayS * 1000;
// libsodium: crypto_pwhash_MEMLIMIT_MIN is 8192 bytes; our field is KiB in a uint32.
constexpr std::int64_t kArgon2MinMemoryKib = 8;
constexpr std::int64_t kArgon2MaxMemoryKib = 4LL * 1024 * 1024;  // 4 GiB
// NIST SP 800-63B: memorized secrets of at least 8 characters.
constexpr std::int64_t kMinPasswordLengthFloor = 8;
constexpr std::int64_t kMaxPasswordLengthCeiling = 4096;
// Longest rendering of an offending value quoted back in an error message.
constexpr std::size_t kMaxRenderedValue = 80;

constexpr std::string_view kSetOrigin = "--set";
constexpr std::string_view kForwardAuthRuleKey = "forward_auth.rule";
constexpr std::string_view kDataDirKey = "data_dir";

// Every value a configuration key can hold, in its TOML-level shape.
using Value = std::variant<std::int64_t, bool, std::string, std::vector<std::string>>;

enum class ValueKind { kInteger, kBoolean, kString, kStringList, kCidrList };

// One configuration key: how to check a TOML value for it, and how to store and read it.
struct KeySpec {
  std::string_view key;  // "section.name" or "data_dir"
  ValueKind kind;
  std::int64_t min = 0;  // kInteger: inclusive range
  std::int64_t max = kNoMax;
  std::vector<std::string_view> allowed;  // kString: permitted values; empty = any
  bool non_empty_list = false;            // kStringList: at least one element
  std::string_view range_note;            // why the range is what it is, for the message
  std::function<void(Config&, const Value&)> set;
  std::function<Value(const Config&)> get;
};

template <typename Section, typename Field>
KeySpec IntKey(std::string_view key, Section Config::*section, Field Section::*field,
               std::int64_t min, std::int64_t max, std::string_view note = {}) {
  KeySpec spec{key, ValueKind::kInteger, min, max, {}, false, note, nullptr, nullptr};
  spec.set = [section, field](Config& c, const Value& v) {
    (c.*section).*field = static_cast<Field>(std::get<std::int64_t>(v));
  };
  spec.get = [section, field](const Config& c) -> Value {
    return static_cast<std::int64_t>((c.*section).*field);
  };
  return spec;
}

template <typename Section>
KeySpec BoolKey(std::string_view key, Section Config::*section, bool Section::*field) {
  KeySpec spec{key, ValueKind::kBoolean, 0, 0, {}, false, {}, nullptr, nullptr};
  spec.set = [section, field](Config& c, const Value& v) {
    (c.*section).*field = std::get<bool>(v);
  };
  spec.get = [section, field](const Config& c) -> Value { return (c.*section).*field; };
  return spec;
}

template <typename Section>
KeySpec StringKey(std::string_view key, Section Config::*section, std::string Section::*field,
                  std::vector<std::string_view> allowed = {}) {
  KeySpec spec{key, ValueKind::kString, 0, 0, std::move(allowed), false, {}, nullptr, nullptr};
  spec.set = [section, field](Config& c, const Value& v) {
    (c.*section).*field = std::get<std::string>(v);
  };
  spec.get = [section, field](const Config& c) -> Value { return (c.*section).*field; };
  return spec;
}

template <typename Section>
KeySpec StringListKey(std::string_view key, Section Config::*section,
                      std::vector<std::string> Section::*field, bool non_empty) {
  KeySpec spec{key, ValueKind::kStringList, 0, 0, {}, non_empty, {}, nullptr, nullptr};
  spec.set = [section, field](Config& c, const Value& v) {
    (c.*section).*field = std::get<std::vector<std::string>>(v);
  };
  spec.get = [section, field](const Config& c) -> Value { return (c.*section).*field; };
  return spec;
}

KeySpec TrustedProxiesKey() {
  KeySpec spec{
      "server.trusted_proxies", ValueKind::kCidrList, 0, 0, {}, false, {}, nullptr, nullptr};
  spec.set = [](Config& c, const Value& v) {
    c.server.trusted_proxies.clear();
    // Decode has already checked that every entry parses.
    for (const std::string& text : std::get<std::vector<std::string>>(v)) {
      c.server.trusted_proxies.push_back(*ParseCidr(text));
    }
  };
  spec.get = [](const Config& c) -> Value {
    std::vector<std::string> out;
    for (const Cidr& cidr : c.server.trusted_proxies) out.push_back(cidr.ToString());
    return out;
  };
  return spec;
}

KeySpec DataDirKey() {
  KeySpec spec{kDataDirKey, ValueKind::kString, 0, 0, {}, false, {}, nullptr, nullptr};
  spec.set = [](Config& c, const Value& v) { c.data_dir = std::get<std::string>(v); };
  spec.get = [](const Config& c) -> Value { return c.data_dir; };
  return spec;
}

// Every scalar and list key of DESIGN §3 (forward_auth.rule is handled separately).
const std::vector<KeySpec>& Specs() {
  using C = Config;
  static const std::vector<KeySpec> specs = [] {
    std::vector<KeySpec> s;
    s.push_back(DataDirKey());
    // [server]
    s.push_back(StringKey("server.listen", &C::server, &ServerConfig::listen));
    s.push_back(
        IntKey("server.max_body_bytes", &C::server, &ServerConfig::max_body_bytes, 1, 1LL << 30));
    s.push_back(IntKey("server.max_header_bytes", &C::server, &ServerConfig::max_header_bytes, 1024,
                       1LL << 20));
    s.push_back(IntKey("server.header_timeout_ms", &C::server, &ServerConfig::header_timeout_ms, 1,
                       kOneHourMs));
    s.push_back(
        IntKey("server.idle_timeout_ms", &C::server, &ServerConfig::idle_timeout_ms, 1, kOneDayMs));
    s.push_back(
        IntKey("server.max_connections", &C::server, &ServerConfig::max_connections, 1, 1000000));
    s.push_back(IntKey("server.threads", &C::server, &ServerConfig::threads, 0, 1024));
    s.push_back(BoolKey("server.behind_tls_proxy", &C::server, &ServerConfig::behind_tls_proxy));
    s.push_back(TrustedProxiesKey());
    // [tls]
    s.push_back(StringKey("tls.mode", &C::tls, &TlsConfig::mode, {"auto", "off", "files"}));
    s.push_back(StringKey("tls.cert_file", &C::tls, &TlsConfig::cert_file));
    s.push_back(StringKey("tls.key_file", &C::tls, &TlsConfig::key_file));
    s.push_back(StringKey("tls.min_version", &C::tls, &TlsConfig::min_version, {"1.2", "1.3"}));
    s.push_back(IntKey("tls.hsts_max_age", &C::tls, &TlsConfig::hsts_max_age, 0, kTenYearsS));
    // [database]
    s.push_back(StringKey("database.url", &C::database, &DatabaseConfig::url));
    s.push_back(IntKey("database.pool_size", &C::database, &DatabaseConfig::pool_size, 1, 1024));
    // [tokens]
    s.push_back(StringKey("tokens.issuer", &C::tokens, &TokensConfig::issuer));
    s.push_back(StringListKey("tokens.audience", &C::tokens, &TokensConfig::audience, true));
    s.push_back(IntKey("tokens.access_ttl_s", &C::tokens, &TokensConfig::access_ttl_s, 1, 3600));
    s.push_back(IntKey("tokens.refresh_idle_ttl_s", &C::tokens, &TokensConfig::refresh_idle_ttl_s,
                       1, kTenYearsS));
    s.push_back(IntKey("tokens.refresh_absolute_ttl_s", &C::tokens,
                       &TokensConfig::refresh_absolute_ttl_s, 1, kTenYearsS));
    s.push_back(IntKey("tokens.refresh_reuse_grace_s", &C::tokens,
                       &TokensConfig::refresh_reuse_grace_s, 0, 300));
    s.push_back(IntKey("tokens.leeway_s", &C::tokens, &TokensConfig::leeway_s, 0, 300));
    s.push_back(StringKey("tokens.signing_alg", &C::tokens, &TokensConfig::signing_alg,
                          {"EdDSA", "ES256", "RS256"}));
    s.push_back(
        IntKey("tokens.key_rotation_days", &C::tokens, &TokensConfig::key_rotation_days, 1, 3650));
    s.push_back(IntKey("tokens.cache_max_entries", &C::tokens, &TokensConfig::cache_max_entries, 0,
                       10'000'000));
    s.push_back(
        IntKey("tokens.cache_max_bytes", &C::tokens, &TokensConfig::cache_max_bytes, 0, 1LL << 30));
    // [password]
    s.push_back(IntKey("password.argon2_memory_kib", &C::password,
                       &PasswordConfig::argon2_memory_kib, kArgon2MinMemoryKib, kArgon2MaxMemoryKib,
                       "libsodium's Argon2id accepts 8 KiB to 4 GiB"));
    s.push_back(IntKey("password.argon2_iterations", &C::password,
                       &PasswordConfig::argon2_iterations, 1, 1000));
    s.push_back(IntKey("password.argon2_parallelism", &C::password,
                       &PasswordConfig::argon2_parallelism, 1, 1,
                       "libsodium computes Argon2id with a single lane, so hashes are always "
                       "p=1; raise argon2_memory_kib or argon2_iterations instead"));
    s.push_back(IntKey("password.min_length", &C::password, &PasswordConfig::min_length,
                       kMinPasswordLengthFloor, kMaxPasswordLengthCeiling,
                       "NIST SP 800-63B requires at least 8 characters"));
    s.push_back(IntKey("password.max_length", &C::password, &PasswordConfig::max_length,
                       kMinPasswordLengthFloor, kMaxPasswordLengthCeiling));
    s.push_back(BoolKey("password.reject_common", &C::password, &PasswordConfig::reject_common));
    s.push_back(
        IntKey("password.hash_workers", &C::password, &PasswordConfig::hash_workers, 0, 1024));
    s.push_back(
        IntKey("password.hash_queue", &C::password, &PasswordConfig::hash_queue, 1, 1000000));
    // [lockout]
    s.push_back(IntKey("lockout.max_failures", &C::lockout, &LockoutConfig::max_failures, 1, 1000));
    s.push_back(
        IntKey("lockout.base_lock_s", &C::lockout, &LockoutConfig::base_lock_s, 1, kOneDayS));
    s.push_back(
        IntKey("lockout.max_lock_s", &C::lockout, &LockoutConfig::max_lock_s, 1, kThirtyDaysS));
    s.push_back(IntKey("lockout.account_max_failures", &C::lockout,
                       &LockoutConfig::account_max_failures, 1, 100,
                       "NIST SP 800-63B caps an account at 100 consecutive failures"));
    s.push_back(IntKey("lockout.account_window_s", &C::lockout, &LockoutConfig::account_window_s, 1,
                       kThirtyDaysS));
    s.push_back(IntKey("lockout.known_source_days", &C::lockout, &LockoutConfig::known_source_days,
                       0, 3650));
    s.push_back(IntKey("lockout.ip_max_failures", &C::lockout, &LockoutConfig::ip_max_failures, 1,
                       1000000));
    s.push_back(
        IntKey("lockout.ip_window_s", &C::lockout, &LockoutConfig::ip_window_s, 1, kOneDayS));
    s.push_back(
        IntKey("lockout.max_entries", &C::lockout, &LockoutConfig::max_entries, 100, 10'000'000));
    // [apikeys] [basic] [registration] [oauth2] [master_key] [log]
    s.push_back(
        IntKey("apikeys.default_ttl_days", &C::apikeys, &ApiKeysConfig::default_ttl_days, 0, 3650));
    s.push_back(BoolKey("basic.enabled", &C::basic, &BasicConfig::enabled));
    s.push_back(IntKey("basic.cache_ttl_s", &C::basic, &BasicConfig::cache_ttl_s, 0, 3600));
    s.push_back(BoolKey("registration.open", &C::registration, &RegistrationConfig::open));
    s.push_back(StringListKey("registration.default_roles", &C::registration,
                              &RegistrationConfig::default_roles, false));
    s.push_back(BoolKey("oauth2.password_grant", &C::oauth2, &OAuth2Config::password_grant));
    s.push_back(StringKey("ui.product_name", &C::ui, &UiConfig::product_name));
    s.push_back(StringKey("ui.logo_url", &C::ui, &UiConfig::logo_url));
    s.push_back(IntKey("sessions.ttl_s", &C::sessions, &SessionsConfig::ttl_s, 60, kThirtyDaysS));
    s.push_back(StringListKey("mfa.required_roles", &C::mfa, &MfaConfig::required_roles, false));
    s.push_back(
        IntKey("dpop.proof_max_age_s", &C::dpop, &DpopConfig::proof_max_age_s, 5, kOneDayS));
    s.push_back(IntKey("dpop.proof_leeway_s", &C::dpop, &DpopConfig::proof_leeway_s, 0, 300));
    s.push_back(BoolKey("dpop.require_nonce", &C::dpop, &DpopConfig::require_nonce));
    s.push_back(IntKey("dpop.replay_cache_entries", &C::dpop, &DpopConfig::replay_cache_entries,
                       1'000, 10'000'000));
    s.push_back(StringKey("master_key.file", &C::master_key, &MasterKeyConfig::file));
    s.push_back(
        StringKey("log.level", &C::log, &LogConfig::level, {"debug", "info", "warn", "error"}));
    s.push_back(StringKey("log.format", &C::log, &LogConfig::format, {"json", "text"}));
    return s;
  }();
  return specs;
}

const KeySpec* FindSpec(std::string_view key) {
  for (const KeySpec& spec : Specs()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

bool IsSection(std::string_view name) {
  if (name == "forward_auth") return true;
  for (const KeySpec& spec : Specs()) {
    const std::size_t dot = spec.key.find('.');
    if (dot != std::string_view::npos && spec.key.substr(0, dot) == name) return true;
  }
  return false;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += '?';  // keep control characters out of terminal output
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

// The offending value as the user wrote it, for "got ..." in messages.
std::string Render(const toml::node& node) {
  std::string out;
  if (const auto* s = node.as_string()) {
    out = Quote(s->get());
  } else if (node.is_table()) {
    return "a table";
  } else if (node.is_array()) {
    return "an array";
  } else {
    std::ostringstream os;
    node.visit([&os](const auto& n) { os << n; });
    out = os.str();
  }
  if (out.size() > kMaxRenderedValue) out = out.substr(0, kMaxRenderedValue) + "...";
  return out;
}

// " (at FILE:LINE)" for a node read from a file, " (from --set)" for a --set value, else "".
std::string WhereOf(const toml::node& node) {
  const toml::source_region& source = node.source();
  if (!source.path) return "";
  if (*source.path == kSetOrigin) return " (from --set)";
  return " (at " + *source.path + ":" + std::to_string(source.begin.line) + ")";
}

Status UnknownKey(std::string_view key, std::string_view where) {
  return InvalidArgumentError("unknown configuration key '" + std::string(key) + "'" +
                              std::string(where));
}

Status InvalidValue(std::string_view key, std::string_view expected, const toml::node& node,
                    std::string_view where) {
  return InvalidArgumentError("invalid value for '" + std::string(key) + "': expected " +
                              std::string(expected) + ", got " + Render(node) + std::string(where));
}

std::string IntegerExpectation(const KeySpec& spec) {
  if (spec.max == kNoMax) return "an integer >= " + std::to_string(spec.min);
  if (spec.min == spec.max) return "the integer " + std::to_string(spec.min);
  return "an integer between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
}

std::string AllowedList(const std::vector<std::string_view>& allowed) {
  std::string out;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) out += i + 1 == allowed.size() ? " or " : ", ";
    out += Quote(allowed[i]);
  }
  return out;
}

// Reads a string or an array of strings (a single string means a one-element list).
std::optional<std::vector<std::string>> StringsOf(const toml::node& node) {
  if (const auto* s = node.as_string()) return std::vector<std::string>{s->get()};
  const toml::array* array = node.as_array();
  if (array == nullptr) return std::nullopt;
  std::vector<std::string> out;
  for (const toml::node& element : *array) {
    const auto* s = element.as_string();
    if (s == nullptr) return std::nullopt;
    out.push_back(s->get());
  }
  return out;
}

// Checks `node` against `spec` and converts it. `where` locates the value for messages.
Result<Value> Decode(const KeySpec& spec, const toml::node& node, std::string_view where) {
  switch (spec.kind) {
    case ValueKind::kInteger: {
      const auto* i = node.as_integer();
      if (i == nullptr) return InvalidValue(spec.key, IntegerExpectation(spec), node, where);
      const std::int64_t v = i->get();
      if (v < spec.min || v > spec.max) {
        std::string message = "'" + std::string(spec.key) + "' must be ";
        if (spec.min == spec.max) {
          message += std::to_string(spec.min);
        } else if (spec.max == kNoMax) {
          message += ">= " + std::to_string(spec.min);
        } else {
          message += "between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
        }
        message += ", got " + std::to_string(v);
        if (!spec.range_note.empty()) message += " (" + std::string(spec.range_note) + ")";
        return InvalidArgumentError(message + std::string(where));
      }
      return Value{v};
    }
    case ValueKind::kBoolean: {
      const auto* b = node.as_boolean();
      if (b == nullptr) return InvalidValue(spec.key, "true or false", node, where);
      return Value{b->get()};
    }
    case ValueKind::kString: {
      const auto* s = node.as_string();
      if (spec.allowed.empty()) {
        if (s == nullptr) return InvalidValue(spec.key, "a string", node, where);
        return Value{s->get()};
      }
      if (s == nullptr ||
          std::find(spec.allowed.begin(), spec.allowed.end(), s->get()) == spec.allowed.end()) {
        return InvalidValue(spec.key, AllowedList(spec.allowed), node, where);
      }
      return Value{s->get()};
    }
    case ValueKind::kStringList: {
      std::optional<std::vector<std::string>> strings = StringsOf(node);
      const bool has_empty = strings && std::any_of(strings->begin(), strings->end(),
                                                    [](const std::string& x) { return x.empty(); });
      if (!strings || has_empty || (spec.non_empty_list && strings->empty())) {
        return InvalidValue(spec.key,
                            spec.non_empty_list ? "a non-empty array of non-empty strings"
                                                : "an array of non-empty strings",
                            node, where);
      }
      return Value{std::move(*strings)};
    }
    case ValueKind::kCidrList: {
      std::optional<std::vector<std::string>> strings = StringsOf(node);
      if (!strings) {
        return InvalidValue(spec.key, "an array of CIDR strings like \"10.0.0.0/8\"", node, where);
      }
      for (const std::string& text : *strings) {
        if (!ParseCidr(text)) {
          return InvalidArgumentError("invalid value for '" + std::string(spec.key) +
                                      "': " + Quote(text) +
                                      " is not a CIDR network like \"10.0.0.0/8\" or "
                                      "\"2001:db8::/32\" (host bits must be zero)" +
                                      std::string(where));
        }
      }
      return Value{std::move(*strings)};
    }
  }
  return InternalError("unhandled value kind");
}

Status Apply(const KeySpec& spec, const toml::node& node, std::string_view where, Config& config) {
  Result<Value> value = Decode(spec, node, where);
  if (!value.ok()) return value.status();
  spec.set(config, *value);
  return Status::Ok();
}

bool IsHttpMethod(std::string_view m) {
  static constexpr std::string_view kMethods[] = {"*",      "GET",     "HEAD",    "POST",  "PUT",
                                                  "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return std::find(std::begin(kMethods), std::end(kMethods), m) != std::end(kMethods);
}

// "invalid value for 'KEY': REASON, got VALUE (at ...)": for values whose problem needs more than
// the expected shape to explain (globs, permissions).
Status InvalidBecause(std::string_view key, std::string_view reason, const toml::node& node,
                      std::string_view where) {
  return InvalidArgumentError("invalid value for '" + std::string(key) + "': " +
                              std::string(reason) + ", got " + Render(node) + std::string(where));
}

// Decodes one [[forward_auth.rule]] table; `key` is "forward_auth.rule[N]". Globs and
// permissions are checked with the same functions the rule matcher uses (authz/forward_auth.h),
// so a rule that loads is a rule that compiles.
Result<ForwardAuthRule> DecodeRule(const toml::table& table, const std::string& key) {
  ForwardAuthRule rule;
  bool has_require = false;
  for (const auto& [name, node] : table) {
    const std::string field = key + "." + std::string(name.str());
    const std::string where = WhereOf(node);
    if (name == "host") {
      const auto* s = node.as_string();
      if (s == nullptr || s->get().empty()) {
        return InvalidValue(field, "a host name or \"*\"", node, where);
      }
      if (Status glob = authz::ValidateHostGlob(s->get()); !glob.ok()) {
        return InvalidBecause(field, glob.message(), node, where);
      }
      rule.host = s->get();
    } else if (name == "path") {
      const auto* s = node.as_string();
      if (s == nullptr || s->get().empty() || s->get().front() != '/') {
        return InvalidValue(field, "a path pattern starting with '/'", node, where);
      }
      if (Status glob = authz::ValidatePathGlob(s->get()); !glob.ok()) {
        return InvalidBecause(field, glob.message(), node, where);
      }
      rule.path = s->get();
    } else if (name == "methods") {
      std::optional<std::vector<std::string>> methods = StringsOf(node);
      if (!methods || methods->empty() ||
          !std::all_of(methods->begin(), methods->end(),
                       [](const std::string& m) { return IsHttpMethod(m); })) {
        return InvalidValue(field, "an array of upper-case HTTP methods or \"*\"", node, where);
      }
      rule.methods = std::move(*methods);
    } else if (name == "require") {
      has_require = true;
      const auto* s = node.as_string();
      if (s != nullptr && s->get() == "public") {
        rule.kind = ForwardAuthRule::Kind::kPublic;
      } else if (s != nullptr && s->get() == "authenticated") {
        rule.kind = ForwardAuthRule::Kind::kAuthenticated;
      } else if (const toml::array* array = node.as_array(); array != nullptr) {
        std::optional<std::vector<std::string>> permissions = StringsOf(node);
        if (!permissions || permissions->empty() ||
            std::any_of(permissions->begin(), permissions->end(),
                        [](const std::string& p) { return p.empty(); })) {
          return InvalidValue(field, "a non-empty array of permission strings", node, where);
        }
        for (const std::string& p : *permissions) {
          if (!authz::IsValidPermission(p)) {
            return InvalidArgumentError(
                "invalid value for '" + field + "': " + Quote(p) +
                " is not a permission (':'-separated segments of [a-z0-9_.-], or '*')" + where);
          }
        }
        rule.kind = ForwardAuthRule::Kind::kPermissions;
        rule.permissions = std::move(*permissions);
      } else {
        return InvalidValue(
            field, "\"public\", \"authenticated\" or an array of permission strings", node, where);
      }
    } else {
      return UnknownKey(field, where);
    }
  }
  if (!has_require) {
    return InvalidArgumentError("'" + key +
                                ".require' is required: \"public\", \"authenticated\" or an "
                                "array of permission strings" +
                                WhereOf(table));
  }
  return rule;
}

Status ApplyRules(const toml::node& node, std::string_view where, Config& config) {
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return InvalidValue(kForwardAuthRuleKey, "an array of tables ([[forward_auth.rule]])", node,
                        where);
  }
  std::vector<ForwardAuthRule> rules;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const std::string key = std::string(kForwardAuthRuleKey) + "[" + std::to_string(i) + "]";
    const toml::table* table = (*array)[i].as_table();
    if (table == nullptr) {
      return InvalidValue(key, "a table", (*array)[i], WhereOf((*array)[i]));
    }
    Result<ForwardAuthRule> rule = DecodeRule(*table, key);
    if (!rule.ok()) return rule.status();
    rules.push_back(std::move(*rule));
  }
  config.forward_auth_rules = std::move(rules);
  return Status::Ok();
}

// Applies every key of a parsed config file, rejecting unknown ones.
Status ApplyFile(const toml::table& root, Config& config) {
  for (const auto& [name, node] : root) {
    const std::string section(name.str());
    if (section == kDataDirKey) {
      Status s = Apply(*FindSpec(kDataDirKey), node, WhereOf(node), config);
      if (!s.ok()) return s;
      continue;
    }
    if (!IsSection(section)) return UnknownKey(section, WhereOf(node));
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return InvalidValue(section, "a table [" + section + "]", node, WhereOf(node));
    }
    for (const auto& [sub_name, sub_node] : *table) {
      const std::string key = section + "." + std::string(sub_name.str());
      Status s;
      if (key == kForwardAuthRuleKey) {
        s = ApplyRules(sub_node, WhereOf(sub_node), config);
      } else if (const KeySpec* spec = FindSpec(key); spec != nullptr) {
        s = Apply(*spec, sub_node, WhereOf(sub_node), config);
      } else {
        s = UnknownKey(key, WhereOf(sub_node));
      }
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Result<toml::table> ParseFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read config file '" + path + "'");
  std::ostringstream contents;
  contents << in.rdbuf();
  try {
    return toml::parse(contents.str(), path);
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError("syntax error in config file '" + path + "' at line " +
                                std::to_string(e.source().begin.line) + ", column " +
                                std::to_string(e.source().begin.column) + ": " +
                                std::string(e.description()));
  }
}

// Applies a string from the environment or a flag to a string key, e.g. --listen.
Status ApplyText(std::string_view key, const std::string& text, std::string_view origin,
                 Config& config) {
  const toml::value<std::string> node(text);
  return Apply(*FindSpec(key), node, " (from " + std::string(origin) + ")", config);
}

// One --set KEY=VALUE. The value is TOML when it parses as exactly one TOML value; keys that take
// strings take the raw text whenever the TOML reading is not itself a string (or an array, for
// list keys), so "--set tls.min_version=1.3" is "1.3".
Status ApplySet(const std::string& arg, Config& config) {
  const std::size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgumentError("invalid --set " + Quote(arg) + ": expected KEY=VALUE");
  }
  const std::string key = arg.substr(0, eq);
  const std::string raw = arg.substr(eq + 1);
  const KeySpec* spec = FindSpec(key);
  if (spec == nullptr && key != kForwardAuthRuleKey) return UnknownKey(key, " (from --set)");

  std::optional<toml::table> parsed;
  if (raw.find_first_of("\r\n") == std::string::npos) {
    try {
      parsed = toml::parse("v = " + raw, kSetOrigin);
    } catch (const toml::parse_error&) {
      parsed.reset();
    }
  }
  const toml::node* node = nullptr;
  if (parsed && parsed->size() == 1) node = parsed->get("v");

  // The raw text as a string node, tagged with the --set origin like a parsed value.
  const toml::value<std::string> raw_node(raw);
  const bool wants_text =
      spec != nullptr && spec->kind != ValueKind::kInteger && spec->kind != ValueKind::kBoolean;
  if (node == nullptr || (wants_text && !node->is_string() &&
                          !(spec->kind != ValueKind::kString && node->is_array()))) {
    node = &raw_node;
  }
  if (spec == nullptr) return ApplyRules(*node, " (from --set)", config);
  return Apply(*spec, *node, " (from --set)", config);
}

Status ApplyTlsFlag(const std::string& flag, Config& config) {
  if (flag == "auto" || flag == "off") {
    config.tls.mode = flag;
    return Status::Ok();
  }
  const std::size_t comma = flag.find(',');
  if (comma == std::string::npos || comma == 0 || comma + 1 == flag.size() ||
      flag.find(',', comma + 1) != std::string::npos) {
    return InvalidArgumentError(
        "invalid value for '--tls': expected \"auto\", \"off\" or "
        "\"CERT_FILE,KEY_FILE\", got " +
        Quote(flag));
  }
  config.tls.mode = "files";
  config.tls.cert_file = flag.substr(0, comma);
  config.tls.key_file = flag.substr(comma + 1);
  return Status::Ok();
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.front() == '-' || host.front() == '.') return false;
  return std::all_of(host.begin(), host.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.';
  });
}

// Splits "HOST:PORT" / "[IPV6]:PORT" into the server's listen_host and listen_port.
Status ResolveListen(ServerConfig& server) {
  const std::string& listen = server.listen;
  const Status bad = InvalidArgumentError(
      "invalid value for 'server.listen': expected HOST:PORT or [IPV6]:PORT, got " + Quote(listen));
  std::string host;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    const std::size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad;
    }
    host = listen.substr(1, close - 1);
    std::optional<IpAddress> ip = ParseIp(host);
    if (!ip || !ip->is_v6) return bad;
    port_text = std::string_view(listen).substr(close + 2);
  } else {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return bad;
    host = listen.substr(0, colon);
    if (!IsHostName(host)) return bad;
    port_text = std::string_view(listen).substr(colon + 1);
  }
  unsigned port = 0;
  constexpr std::size_t kMaxPortDigits = 5;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || port_text.size() > kMaxPortDigits || ec != std::errc() ||
      end != port_text.data() + port_text.size() ||
      port > std::numeric_limits<std::uint16_t>::max()) {
    return bad;
  }
  server.listen_host = host;
  server.listen_port = static_cast<std::uint16_t>(port);
  return Status::Ok();
}

bool ListenIsLoopback(const ServerConfig& server) {
  if (server.listen_host == "localhost") return true;
  std::optional<IpAddress> ip = ParseIp(server.listen_host);
  return ip && IsLoopback(*ip);
}

Status CheckFileExists(std::string_view key, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return InvalidArgumentError("invalid value for '" + std::string(key) + "': file " +
                                Quote(path) + " does not exist or is not a regular file");
  }
  return Status::Ok();
}

unsigned Cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// Fills in the defaults that depend on other keys, then checks the rules spanning several keys.
Status Finish(Config& config) {
  if (config.data_dir.empty()) {
    return InvalidArgumentError("invalid value for 'data_dir': must not be empty");
  }
  if (Status s = ResolveListen(config.server); !s.ok()) return s;

  if (config.database.url.empty())
    config.database.url = "sqlite:" + config.data_dir + "/portcullis.db";
  if (config.master_key.file.empty()) config.master_key.file = config.data_dir + "/master.key";
  if (config.tokens.issuer.empty()) {
    config.tokens.issuer =
        (config.tls.mode == "off" ? "http://" : "https://") + config.server.listen;
  }
  if (config.server.threads == 0) config.server.threads = Cores();
  if (config.password.hash_workers == 0) config.password.hash_workers = Cores();

  // TLS.
  if (config.tls.mode == "off" && !config.server.behind_tls_proxy &&
      !ListenIsLoopback(config.server)) {
    return InvalidArgumentError(
        "'tls.mode' \"off\" (--tls off) is only allowed when 'server.listen' is a loopback "
        "address or 'server.behind_tls_proxy' = true; listen is " +
        Quote(config.server.listen));
  }
  if (config.tls.mode == "files" && (config.tls.cert_file.empty() || config.tls.key_file.empty())) {
    return InvalidArgumentError(
        "'tls.mode' \"files\" needs both 'tls.cert_file' and 'tls.key_file'");
  }
  if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
    return InvalidArgumentError("'tls.cert_file' and 'tls.key_file' must be set together");
  }
  if (!config.tls.cert_file.empty()) {
    if (Status s = CheckFileExists("tls.cert_file", config.tls.cert_file); !s.ok()) return s;
    if (Status s = CheckFileExists("tls.key_file", config.tls.key_file); !s.ok()) return s;
  }

  // Database. The URL is never quoted back: a postgresql:// URL may carry a password.
  const std::string& url = config.database.url;
  const bool postgres = url.starts_with("postgresql://") || url.starts_with("postgres://");
  if (postgres && url.find_first_of(" \t\r\n") != std::string::npos) {
    return InvalidArgumentError("invalid value for 'database.url': contains whitespace");
  }
  if (!postgres &&
      (!url.starts_with("sqlite:") || url.size() == std::string_view("sqlite:").size())) {
    return InvalidArgumentError(
        "invalid value for 'database.url': expected \"sqlite:PATH\" or \"postgresql://...\"");
  }

  // Tokens.
  const std::string& issuer = config.tokens.issuer;
  const bool https = issuer.starts_with("https://") && issuer.size() > 8;
  const bool http = issuer.starts_with("http://") && issuer.size() > 7;
  if (!https && !http) {
    return InvalidArgumentError("invalid value for 'tokens.issuer': expected an http(s) URL, got " +
                                Quote(issuer));
  }
  if (config.tokens.refresh_absolute_ttl_s < config.tokens.refresh_idle_ttl_s) {
    return InvalidArgumentError("'tokens.refresh_absolute_ttl_s' (" +
                                std::to_string(config.tokens.refresh_absolute_ttl_s) +
                                ") must be >= 'tokens.refresh_idle_ttl_s' (" +
                                std::to_string(config.tokens.refresh_idle_ttl_s) + ")");
  }

  // Password and lockout.
  if (config.password.min_length > config.password.max_length) {
    return InvalidArgumentError(
        "'password.min_length' (" + std::to_string(config.password.min_length) +
        ") must be <= 'password.max_length' (" + std::to_string(config.password.max_length) + ")");
  }
  if (config.lockout.max_lock_s < config.lockout.base_lock_s) {
    return InvalidArgumentError(
        "'lockout.max_lock_s' (" + std::to_string(config.lockout.max_lock_s) +
        ") must be >= 'lockout.base_lock_s' (" + std::to_string(config.lockout.base_lock_s) + ")");
  }
  return Status::Ok();
}

std::optional<std::string> NonEmpty(const std::map<std::string, std::string>& env,
                                    const std::string& name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

constexpr std::string_view kEnvConfig = "PORTCULLIS_CONFIG";
constexpr std::string_view kEnvListen = "PORTCULLIS_LISTEN";
constexpr std::string_view kEnvDataDir = "PORTCULLIS_DATA_DIR";
constexpr std::string_view kEnvDatabaseUrl = "PORTCULLIS_DATABASE_URL";

// Replaces the password of a URL's userinfo ("scheme://user:pw@host") with "[redacted]".
std::string RedactUrlPassword(const std::string& url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  const std::size_t authority = scheme_end + 3;
  const std::size_t at = url.find('@', authority);
  const std::size_t slash = url.find('/', authority);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  const std::size_t colon = url.find(':', authority);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "[redacted]" + url.substr(at);
}

}  // namespace

Result<Config> LoadConfig(const LoadInputs& inputs) {
  Config config;

  // 2. File.
  std::optional<std::string> file = inputs.config_file;
  if (!file) file = NonEmpty(inputs.env, std::string(kEnvConfig));
  if (file) {
    Result<toml::table> root = ParseFile(*file);
    if (!root.ok()) return root.status();
    if (Status s = ApplyFile(*root, config); !s.ok()) return s;
  }

  // 3. Environment.
  const std::pair<std::string_view, std::string_view> env_keys[] = {
      {kEnvListen, "server.listen"}, {kEnvDataDir, kDataDirKey}, {kEnvDatabaseUrl, "database.url"}};
  for (const auto& [variable, key] : env_keys) {
    if (std::optional<std::string> value = NonEmpty(inputs.env, std::string(variable))) {
      if (Status s = ApplyText(key, *value, variable, config); !s.ok()) return s;
    }
  }

  // 4. Flags: --set first, then the dedicated flags, which name a key more specifically.
  for (const std::string& arg : inputs.set_args) {
    if (Status s = ApplySet(arg, config); !s.ok()) return s;
  }
  if (inputs.listen) {
    if (Status s = ApplyText("server.listen", *inputs.listen, "--listen", config); !s.ok())
      return s;
  }
  if (inputs.data_dir) {
    if (Status s = ApplyText(kDataDirKey, *inputs.data_dir, "--data-dir", config); !s.ok()) {
      return s;
    }
  }
  if (inputs.tls) {
    if (Status s = ApplyTlsFlag(*inputs.tls, config); !s.ok()) return s;
  }

  if (Status s = Finish(config); !s.ok()) return s;
  return config;
}

std::map<std::string, std::string> ReadEnvironment() {
  constexpr std::string_view kPrefix = "PORTCULLIS_";
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos || !text.starts_with(kPrefix)) continue;
    env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

std::string ConfigToToml(const Config& config) {
  toml::table root;
  for (const KeySpec& spec : Specs()) {
    const Value value = spec.get(config);
    toml::table* table = &root;
    std::string_view name = spec.key;
    if (const std::size_t dot = spec.key.find('.'); dot != std::string_view::npos) {
      const std::string_view section = spec.key.substr(0, dot);
      name = spec.key.substr(dot + 1);
      if (!root.contains(section)) root.insert(section, toml::table{});
      table = root.get_as<toml::table>(section);
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            toml::array array;
            for (const std::string& element : v) array.push_back(element);
            table->insert_or_assign(name, std::move(array));
          } else if constexpr (std::is_same_v<T, std::string>) {
            table->insert_or_assign(name, spec.key == "database.url" ? RedactUrlPassword(v) : v);
          } else {
            table->insert_or_assign(name, v);
          }
        },
        value);
  }
  toml::array rules;
  for (const ForwardAuthRule& rule : config.forward_auth_rules) {
    toml::array methods;
    for (const std::string& m : rule.methods) methods.push_back(m);
    toml::table t{{"host", rule.host}, {"path", rule.path}};
    t.insert("methods", std::move(methods));
    if (rule.kind == ForwardAuthRule::Kind::kPermissions) {
      toml::array permissions;
      for (const std::string& p : rule.permissions) permissions.push_back(p);
      t.insert("require", std::move(permissions));
    } else {
      t.insert("require", std::string(ToString(rule.kind)));
    }
    rules.push_back(std::move(t));
  }
  if (!rules.empty()) root.insert("forward_auth", toml::table{{"rule", std::move(rules)}});

  std::ostringstream out;
  out << toml::toml_formatter(root);
  out << "\n";
  return out.str();
}

}  // namespace portcullis::config
