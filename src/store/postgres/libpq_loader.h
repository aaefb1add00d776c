// libpq is loaded when a PostgreSQL store is opened, not when the process starts.
//
// The server links no libpq: a SQLite deployment never maps libpq and the chain it pulls in
// (GnuTLS, Kerberos, LDAP, SASL, ...: about 3.3 MB of resident pages and a larger attack surface
// in an auth server that does not need them). libpq_loader.cc defines each libpq function the
// store calls (the prototypes of <libpq-fe.h>, checked by the compiler) as a forwarder to the
// real one, resolved with dlopen("libpq.so.5") + dlsym on first use.
//
// LoadLibpq() is called by ConnectTarget::Create before any other libpq call, so that a missing
// or broken libpq is an ordinary error ("install libpq5") when a postgresql:// store is opened.
// Any forwarder called without it loads libpq itself, and aborts if that fails (a programming
// error: nothing reaches libpq without a ConnectTarget).
#pragma once

#include "base/status.h"

namespace portcullis::store::postgres_detail {

// Loads libpq.so.5 and resolves every function the store uses, once per process; later calls
// return the first outcome. Thread-safe.
Status LoadLibpq();

// True once libpq is loaded in this process (for tests and `portcullis version`).
bool LibpqLoaded();

}  // namespace portcullis::store::postgres_detail
