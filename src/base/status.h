// Status and Result<T>: the error currency of infrastructure code (store, config, I/O).
//
// Security decisions do not use Status; they return their own closed enums (jose::VerifyError,
// password::VerifyOutcome, ...). Status carries a canonical code and a human-readable message that
// must never contain a secret.
//
// Thread-safety: values; safe to copy between threads.
//
//   Result<User> r = store.FindUserById(id);
//   if (!r.ok()) return r.status();
//   const User& user = *r;
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace portcullis {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument = 1,     // the caller's input is malformed or out of range
  kNotFound = 2,            // the named thing does not exist
  kAlreadyExists = 3,       // a unique constraint would be violated
  kPermissionDenied = 4,    // authenticated but not allowed
  kUnauthenticated = 5,     // no or bad credentials
  kResourceExhausted = 6,   // a bounded queue or quota is full
  kFailedPrecondition = 7,  // the system is not in a state to do this
  kUnavailable = 8,         // transient; retry later (database busy, shutting down)
  kInternal = 9,            // a bug or an unexpected library failure
  kAborted = 10,            // a concurrent change won a race (e.g. refresh token already used)
};

std::string_view ToString(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NOT_FOUND: user 42" style, for logs and CLI output.
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status AbortedError(std::string m) { return {StatusCode::kAborted, std::move(m)}; }

// Result<T> holds either a T or a non-OK Status. Constructing it from an OK Status is a bug and
// yields kInternal.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = InternalError("Result constructed from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; Status::Ok() when this holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // Precondition: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace portcullis
