// Fuzzes form decoding (http/parse.h): ParseQuery on the raw bytes, and ParseForm on a request
// whose Content-Type is the input's first line and whose body is the rest (HasMediaType, then the
// same decoding). Invariants for an accepted form: at most kMaxFormFields pairs, names non-empty
// and unique, names and values valid UTF-8 and never longer than the text they came from, and
// ParseForm agrees with ParseQuery on the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "http/encoding.h"
#include "http/parse.h"
#include "http/request.h"

namespace {

using portcullis::http::FormFields;

void CheckForm(const FormFields& form, std::string_view text) {
  if (form.fields.size() > portcullis::http::kMaxFormFields) std::abort();
  std::set<std::string_view> names;
  for (const auto& [name, value] : form.fields) {
    if (name.empty() || !names.insert(name).second) std::abort();
    if (!portcullis::http::IsValidUtf8(name) || !portcullis::http::IsValidUtf8(value)) std::abort();
    if (name.size() + value.size() > text.size()) std::abort();
    if (form.Get(name) == nullptr || *form.Get(name) != value) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto query = portcullis::http::ParseQuery(input);
  if (query.ok()) CheckForm(*query, input);

  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string_view content_type = input.substr(0, newline);
  const std::string_view body = input.substr(newline + 1);
  portcullis::http::Request req;
  try {
    req.message.set(boost::beast::http::field::content_type, content_type);
  } catch (const std::exception&) {
    return 0;  // Beast refuses a field value with CR/LF/NUL; the wire parser never produces one
  }
  req.message.body().assign(body);
  auto form = portcullis::http::ParseForm(req);
  const bool media = portcullis::http::HasMediaType(req.Header("Content-Type"),
                                                    "application/x-www-form-urlencoded");
  if (form.ok() != (media && portcullis::http::ParseQuery(body).ok())) std::abort();
  if (form.ok()) CheckForm(*form, body);
  return 0;
}
