// Never compiled: a verifier source that reaches into the server, for the negative layering
// tests (src/verifier/CMakeLists.txt verifier_layering_detects_server_includes).
#include "store/store.h"
