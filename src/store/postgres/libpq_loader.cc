#include "store/postgres/libpq_loader.h"

#include <dlfcn.h>
#include <libpq-fe.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace portcullis::store::postgres_detail {
namespace {

// Every libpq function the store calls. A function added to connection.cc or postgres_store.cc
// without a forwarder below fails to link (libpq is not on the link line).
// clang-format off
#define PORTCULLIS_LIBPQ_FUNCTIONS(X) \
  X(PQcmdStatus) \
  X(PQcmdTuples) \
  X(PQclear) \
  X(PQconnectdb) \
  X(PQconnectdbParams) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQconsumeInput) \
  X(PQenterPipelineMode) \
  X(PQerrorMessage) \
  X(PQexec) \
  X(PQexecParams) \
  X(PQexecPrepared) \
  X(PQexitPipelineMode) \
  X(PQfinish) \
  X(PQfreemem) \
  X(PQgetisnull) \
  X(PQgetlength) \
  X(PQgetResult) \
  X(PQgetvalue) \
  X(PQnfields) \
  X(PQnotifies) \
  X(PQntuples) \
  X(PQpipelineSync) \
  X(PQprepare) \
  X(PQresultErrorField) \
  X(PQresultErrorMessage) \
  X(PQresultStatus) \
  X(PQsendPrepare) \
  X(PQsendQueryParams) \
  X(PQsendQueryPrepared) \
  X(PQsetNoticeProcessor) \
  X(PQsocket) \
  X(PQstatus) \
  X(PQtransactionStatus)
// clang-format on

enum Function : std::size_t {
#define PORTCULLIS_LIBPQ_ENUM(name) k_##name,
  PORTCULLIS_LIBPQ_FUNCTIONS(PORTCULLIS_LIBPQ_ENUM)
#undef PORTCULLIS_LIBPQ_ENUM
      kFunctionCount
};

constexpr std::array<const char*, kFunctionCount> kNames = {
#define PORTCULLIS_LIBPQ_NAME(name) #name,
    PORTCULLIS_LIBPQ_FUNCTIONS(PORTCULLIS_LIBPQ_NAME)
#undef PORTCULLIS_LIBPQ_NAME
};

constexpr const char* kSoname = "libpq.so.5";

struct Library {
  std::once_flag once;
  Status status;
  std::array<void*, kFunctionCount> functions{};
  std::atomic<bool> loaded{false};
};

Library& TheLibrary() {
  static Library library;
  return library;
}

// The real function `f`; loads libpq first if nothing did.
void* Resolved(Function f) {
  Library& library = TheLibrary();
  if (!library.loaded.load(std::memory_order_acquire)) {
    if (const Status status = LoadLibpq(); !status.ok()) {
      std::fprintf(stderr, "portcullis: %s\n", status.message().c_str());
      std::abort();
    }
  }
  return library.functions[f];
}

template <typename Fn>
Fn Real(Function f) {
  return reinterpret_cast<Fn>(Resolved(f));
}

}  // namespace

Status LoadLibpq() {
  Library& library = TheLibrary();
  std::call_once(library.once, [&library] {
    // RTLD_LOCAL: libpq's symbols stay out of the global scope; the forwarders below are the
    // only way in. dlsym on the handle searches libpq itself first, never these forwarders.
    void* handle = dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      library.status = FailedPreconditionError(
          std::string("PostgreSQL support needs libpq (Debian package libpq5): ") +
          (why != nullptr ? why : kSoname));
      return;
    }
    for (std::size_t i = 0; i < kFunctionCount; ++i) {
      library.functions[i] = dlsym(handle, kNames[i]);
      if (library.functions[i] == nullptr) {
        library.status = FailedPreconditionError(std::string("the installed libpq lacks ") +
                                                 kNames[i] + " (PostgreSQL 14 or newer needed)");
        return;  // the handle stays open: harmless, and nothing else may be using it
      }
    }
    library.loaded.store(true, std::memory_order_release);
  });
  return library.status;
}

bool LibpqLoaded() { return TheLibrary().loaded.load(std::memory_order_acquire); }

}  // namespace portcullis::store::postgres_detail

// The forwarders: the exact prototypes of <libpq-fe.h> (a mismatch does not compile).
#define PORTCULLIS_REAL(name)                                  \
  portcullis::store::postgres_detail::Real<decltype(&::name)>( \
      portcullis::store::postgres_detail::k_##name)

extern "C" {

char* PQcmdStatus(PGresult* res) { return PORTCULLIS_REAL(PQcmdStatus)(res); }
char* PQcmdTuples(PGresult* res) { return PORTCULLIS_REAL(PQcmdTuples)(res); }
void PQclear(PGresult* res) { PORTCULLIS_REAL(PQclear)(res); }
PGconn* PQconnectdb(const char* conninfo) { return PORTCULLIS_REAL(PQconnectdb)(conninfo); }
PGconn* PQconnectdbParams(const char* const* keywords, const char* const* values,
                          int expand_dbname) {
  return PORTCULLIS_REAL(PQconnectdbParams)(keywords, values, expand_dbname);
}
void PQconninfoFree(PQconninfoOption* options) { PORTCULLIS_REAL(PQconninfoFree)(options); }
PQconninfoOption* PQconninfoParse(const char* conninfo, char** errmsg) {
  return PORTCULLIS_REAL(PQconninfoParse)(conninfo, errmsg);
}
int PQconsumeInput(PGconn* conn) { return PORTCULLIS_REAL(PQconsumeInput)(conn); }
int PQenterPipelineMode(PGconn* conn) { return PORTCULLIS_REAL(PQenterPipelineMode)(conn); }
char* PQerrorMessage(const PGconn* conn) { return PORTCULLIS_REAL(PQerrorMessage)(conn); }
PGresult* PQexec(PGconn* conn, const char* query) { return PORTCULLIS_REAL(PQexec)(conn, query); }
PGresult* PQexecParams(PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                       const char* const* paramValues, const int* paramLengths,
                       const int* paramFormats, int resultFormat) {
  return PORTCULLIS_REAL(PQexecParams)(conn, command, nParams, paramTypes, paramValues,
                                       paramLengths, paramFormats, resultFormat);
}
PGresult* PQexecPrepared(PGconn* conn, const char* stmtName, int nParams,
                         const char* const* paramValues, const int* paramLengths,
                         const int* paramFormats, int resultFormat) {
  return PORTCULLIS_REAL(PQexecPrepared)(conn, stmtName, nParams, paramValues, paramLengths,
                                         paramFormats, resultFormat);
}
int PQexitPipelineMode(PGconn* conn) { return PORTCULLIS_REAL(PQexitPipelineMode)(conn); }
void PQfinish(PGconn* conn) { PORTCULLIS_REAL(PQfinish)(conn); }
void PQfreemem(void* ptr) { PORTCULLIS_REAL(PQfreemem)(ptr); }
int PQgetisnull(const PGresult* res, int tup_num, int field_num) {
  return PORTCULLIS_REAL(PQgetisnull)(res, tup_num, field_num);
}
int PQgetlength(const PGresult* res, int tup_num, int field_num) {
  return PORTCULLIS_REAL(PQgetlength)(res, tup_num, field_num);
}
PGresult* PQgetResult(PGconn* conn) { return PORTCULLIS_REAL(PQgetResult)(conn); }
char* PQgetvalue(const PGresult* res, int tup_num, int field_num) {
  return PORTCULLIS_REAL(PQgetvalue)(res, tup_num, field_num);
}
int PQnfields(const PGresult* res) { return PORTCULLIS_REAL(PQnfields)(res); }
PGnotify* PQnotifies(PGconn* conn) { return PORTCULLIS_REAL(PQnotifies)(conn); }
int PQntuples(const PGresult* res) { return PORTCULLIS_REAL(PQntuples)(res); }
int PQpipelineSync(PGconn* conn) { return PORTCULLIS_REAL(PQpipelineSync)(conn); }
PGresult* PQprepare(PGconn* conn, const char* stmtName, const char* query, int nParams,
                    const Oid* paramTypes) {
  return PORTCULLIS_REAL(PQprepare)(conn, stmtName, query, nParams, paramTypes);
}
char* PQresultErrorField(const PGresult* res, int fieldcode) {
  return PORTCULLIS_REAL(PQresultErrorField)(res, fieldcode);
}
char* PQresultErrorMessage(const PGresult* res) {
  return PORTCULLIS_REAL(PQresultErrorMessage)(res);
}
ExecStatusType PQresultStatus(const PGresult* res) { return PORTCULLIS_REAL(PQresultStatus)(res); }
int PQsendPrepare(PGconn* conn, const char* stmtName, const char* query, int nParams,
                  const Oid* paramTypes) {
  return PORTCULLIS_REAL(PQsendPrepare)(conn, stmtName, query, nParams, paramTypes);
}
int PQsendQueryParams(PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                      const char* const* paramValues, const int* paramLengths,
                      const int* paramFormats, int resultFormat) {
  return PORTCULLIS_REAL(PQsendQueryParams)(conn, command, nParams, paramTypes, paramValues,
                                            paramLengths, paramFormats, resultFormat);
}
int PQsendQueryPrepared(PGconn* conn, const char* stmtName, int nParams,
                        const char* const* paramValues, const int* paramLengths,
                        const int* paramFormats, int resultFormat) {
  return PORTCULLIS_REAL(PQsendQueryPrepared)(conn, stmtName, nParams, paramValues, paramLengths,
                                              paramFormats, resultFormat);
}
PQnoticeProcessor PQsetNoticeProcessor(PGconn* conn, PQnoticeProcessor proc, void* arg) {
  return PORTCULLIS_REAL(PQsetNoticeProcessor)(conn, proc, arg);
}
int PQsocket(const PGconn* conn) { return PORTCULLIS_REAL(PQsocket)(conn); }
ConnStatusType PQstatus(const PGconn* conn) { return PORTCULLIS_REAL(PQstatus)(conn); }
PGTransactionStatusType PQtransactionStatus(const PGconn* conn) {
  return PORTCULLIS_REAL(PQtransactionStatus)(conn);
}

}  // extern "C"
