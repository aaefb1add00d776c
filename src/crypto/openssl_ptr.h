// RAII owners for OpenSSL objects, and the one helper that clears the thread's error queue.
//
// Every OpenSSL object in Portcullis lives in one of these unique_ptr aliases; no other file calls
// a *_free function. Failure paths call ClearOpenSslErrors() so that one request's error never
// surfaces in the next request's diagnostics on the same thread.
//
// Thread-safety: the aliases are ordinary unique_ptrs; ClearOpenSslErrors acts on the calling
// thread's queue only.
//
//   EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
//   if (!key) { ClearOpenSslErrors(); return InternalError("keygen failed"); }
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <memory>

namespace portcullis::crypto {

// A stateless deleter calling the given OpenSSL free function.
template <auto FreeFunction>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFunction(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, OpenSslDeleter<EVP_MAC_free>>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, OpenSslDeleter<EVP_MAC_CTX_free>>;
// BN_clear_free: BIGNUMs may hold private key components.
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_clear_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter<ECDSA_SIG_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using Pkcs8PrivKeyInfoPtr =
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, OpenSslDeleter<PKCS8_PRIV_KEY_INFO_free>>;
using OsslParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD_free>>;
using OsslParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM_free>>;

// Empties the calling thread's OpenSSL error queue. Call on every failure path.
void ClearOpenSslErrors();

}  // namespace portcullis::crypto
