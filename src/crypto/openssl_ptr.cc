#include "crypto/openssl_ptr.h"

#include <openssl/err.h>

namespace portcullis::crypto {

void ClearOpenSslErrors() { ERR_clear_error(); }

}  // namespace portcullis::crypto
