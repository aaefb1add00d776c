#include "base/secret.h"

#include <sodium.h>

namespace portcullis {

void SecureZero(void* data, std::size_t size) { sodium_memzero(data, size); }

}  // namespace portcullis
