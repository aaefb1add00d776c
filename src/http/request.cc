#include "http/request.h"

namespace portcullis::http {

std::string_view Request::Header(std::string_view name) const {
  auto it = message.find(boost::beast::string_view(name.data(), name.size()));
  if (it == message.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
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
