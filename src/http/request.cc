#include "http/request.h"

#include "base/ascii.h"

namespace portcullis::http {

std::string_view Request::Header(std::string_view name) const {
  // A scan in arrival order with the length compared first: a request has a handful of fields
  // (at most max_header_bytes of them), and this costs a fraction of Beast's case-insensitive
  // tree search (~270 instructions a lookup, eleven lookups on a forward-auth request).
  for (const auto& field : message) {
    const boost::beast::string_view n = field.name_string();
    if (n.size() == name.size() && EqualsIgnoreAsciiCase({n.data(), n.size()}, name)) {
      const boost::beast::string_view v = field.value();
      return {v.data(), v.size()};
    }
  }
  return {};
}

void SplitTarget(std::string_view target, std::string& path, std::string& query) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) {
    path.assign(target);
    query.clear();
  } else {
    path.assign(target.substr(0, q));
    query.assign(target.substr(q + 1));
  }
}

}  // namespace portcullis::http
