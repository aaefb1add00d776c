#include "http/parse.h"

#include <boost/json/value.hpp>

#include "base/json.h"
#include "http/encoding.h"

namespace portcullis::http {
namespace {

constexpr std::string_view kFormMediaType = "application/x-www-form-urlencoded";
constexpr std::string_view kJsonMediaType = "application/json";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A parameter name safe to echo in an error message: printable ASCII, bounded.
std::string Printable(std::string_view name) {
  constexpr std::size_t kMaxEchoedName = 64;
  std::string out;
  for (char c : name.substr(0, kMaxEchoedName)) {
    out.push_back(c >= 0x20 && c < 0x7F && c != '"' ? c : '?');
  }
  return out;
}

}  // namespace

const std::string* FormFields::Get(std::string_view name) const {
  for (const auto& [key, value] : fields) {
    if (key == name) return &value;
  }
  return nullptr;
}

bool HasMediaType(std::string_view header, std::string_view media_type) {
  std::size_t semi = header.find(';');
  if (!EqualsIgnoreCase(Trim(header.substr(0, semi)), media_type)) return false;
  while (semi != std::string_view::npos) {
    header.remove_prefix(semi + 1);
    semi = header.find(';');
    const std::string_view param = Trim(header.substr(0, semi));
    if (param.empty()) continue;
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view value = Trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!EqualsIgnoreCase(Trim(param.substr(0, eq)), "charset") ||
        !EqualsIgnoreCase(value, "utf-8")) {
      return false;
    }
  }
  return true;
}

Result<FormFields> ParseQuery(std::string_view text) {
  FormFields form;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t amp = text.find('&', start);
    if (amp == std::string_view::npos) amp = text.size();
    const std::string_view piece = text.substr(start, amp - start);
    start = amp + 1;
    if (piece.empty()) continue;
    if (form.fields.size() == kMaxFormFields) {
      return InvalidArgumentError("too many parameters (at most " + std::to_string(kMaxFormFields) +
                                  ")");
    }
    const std::size_t eq = piece.find('=');
    const std::string_view raw_name = piece.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    std::optional<std::string> name = PercentDecode(raw_name, /*plus_as_space=*/true);
    if (!name) return InvalidArgumentError("invalid percent-encoding in a parameter name");
    if (!IsValidUtf8(*name)) return InvalidArgumentError("invalid UTF-8 in a parameter name");
    if (name->empty()) return InvalidArgumentError("empty parameter name");
    std::optional<std::string> value = PercentDecode(raw_value, /*plus_as_space=*/true);
    if (!value) {
      return InvalidArgumentError("invalid percent-encoding in parameter \"" + Printable(*name) +
                                  "\"");
    }
    if (!IsValidUtf8(*value)) {
      return InvalidArgumentError("invalid UTF-8 in parameter \"" + Printable(*name) + "\"");
    }
    if (form.Get(*name) != nullptr) {
      return InvalidArgumentError("parameter \"" + Printable(*name) + "\" is repeated");
    }
    form.fields.emplace_back(std::move(*name), std::move(*value));
  }
  return form;
}

Result<FormFields> ParseForm(const Request& req) {
  if (!HasMediaType(req.Header("Content-Type"), kFormMediaType)) {
    return InvalidArgumentError("Content-Type must be application/x-www-form-urlencoded");
  }
  return ParseQuery(req.message.body());
}

Result<boost::json::object> ParseJsonBody(const Request& req) {
  if (!HasMediaType(req.Header("Content-Type"), kJsonMediaType)) {
    return InvalidArgumentError("Content-Type must be application/json");
  }
  Result<boost::json::value> value = ParseJson(req.message.body());
  if (!value.ok()) return InvalidArgumentError("invalid JSON: " + value.status().message());
  if (!value->is_object()) return InvalidArgumentError("the request body must be a JSON object");
  return std::move(value->as_object());
}

}  // namespace portcullis::http
