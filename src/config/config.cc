#include "config/config.h"

namespace portcullis::config {

std::string_view ToString(ForwardAuthRule::Kind kind) {
  switch (kind) {
    case ForwardAuthRule::Kind::kPublic:
      return "public";
    case ForwardAuthRule::Kind::kAuthenticated:
      return "authenticated";
    case ForwardAuthRule::Kind::kPermissions:
      return "permissions";
  }
  return "unknown";  // unreachable; keeps -Wreturn-type quiet
}

}  // namespace portcullis::config
