#include "store/testing/pg_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#include "base/log.h"

namespace portcullis::store::testing {
namespace {

constexpr char kDefaultBinDir[] = "/usr/lib/postgresql/15/bin";
constexpr char kBinDirEnv[] = "PORTCULLIS_TEST_PG_BINDIR";
constexpr char kDirTemplate[] = "/tmp/portcullis-pg-XXXXXX";
constexpr char kSettingsFile[] = "portcullis_test.conf";
// Generous: on a loaded 2-core machine a fast shutdown (its checkpoint) was seen to exceed 30 s.
constexpr int kPgCtlTimeoutSeconds = 90;
constexpr int kStartAttempts = 5;                   // each on a new port, if the last one was taken
constexpr std::size_t kPasswordBytes = 16;          // 32 hex digits
constexpr std::size_t kMaxOutputBytes = 64 * 1024;  // of one command; the rest is dropped
constexpr std::size_t kErrorTailBytes = 2000;       // of output or server log, in error messages
constexpr std::size_t kMaxDatabaseNameBytes = 63;   // NAMEDATALEN - 1

// Stops and deletes the cluster when the test process goes away without writing "done" first.
// $1 = the directory, $2 = pg_ctl. Runs as the cluster's owner.
constexpr char kWatchdogScript[] = R"(read -r line
[ "$line" = done ] && exit 0
"$2" stop -D "$1/data" -m immediate -w -t 20 >/dev/null 2>&1
rm -rf -- "$1"
)";

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Hands the descriptor to the caller, who must close it.
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string ErrnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

std::string Tail(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() <= kErrorTailBytes) return std::string(text);
  return "..." + std::string(text.substr(text.size() - kErrorTailBytes));
}

Result<std::string> RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  std::size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = ::getrandom(buffer.data() + filled, bytes - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return InternalError(ErrnoText("getrandom"));
    filled += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buffer) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

// "postgresql://user:secret@host:port/db" -> "postgresql://user:***@host:port/db".
std::string RedactUrl(std::string_view url) {
  std::size_t start = url.find("://");
  if (start == std::string_view::npos) return "[unparsed url]";
  start += 3;
  std::size_t at = url.find('@', start);
  if (at == std::string_view::npos) return std::string(url);
  std::size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

bool IsValidDatabaseName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDatabaseNameBytes) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The NULL-terminated char* array execve wants, pointing into `strings` (which must outlive it).
std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// A fixed environment, so that PG* variables, locale and TZ of the test process cannot change
// what initdb and the server do.
std::vector<std::string> ChildEnvironment(const std::string& home) {
  return {"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC", "HOME=" + home};
}

// Who runs a child process.
struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

void WriteStderr(const char* message) {
  ssize_t ignored = ::write(2, message, std::strlen(message));
  (void)ignored;
}

// The child side of fork(): only async-signal-safe calls, since the test process may have other
// threads. Wires stdin/stdout/stderr, closes every other descriptor (so no child, and in particular
// no postgres server, keeps the watchdog socket or a ctest output pipe open), restores default
// signal handling, changes directory and user, and execs.
[[noreturn]] void ExecChild(char* const* argv, char* const* envp, const char* cwd, int in_fd,
                            int out_fd, const Identity& as) {
  if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) ::_exit(126);
  // dup2 onto itself keeps FD_CLOEXEC (when the test process had closed 0, 1 or 2).
  for (int fd = 0; fd <= 2; ++fd) ::fcntl(fd, F_SETFD, 0);
  ::close_range(3, ~0U, 0);  // Linux >= 5.9
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &default_action, nullptr);
  if (::chdir(cwd) != 0) {
    WriteStderr("pg_cluster: chdir failed\n");
    ::_exit(126);
  }
  if (as.switch_user) {
    gid_t groups[] = {as.gid};
    if (::setgroups(1, groups) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) {
      WriteStderr("pg_cluster: cannot switch to user postgres\n");
      ::_exit(126);
    }
  }
  ::execve(argv[0], argv, envp);
  WriteStderr("pg_cluster: exec failed\n");
  ::_exit(127);
}

int WaitForExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// Runs argv (argv[0] an absolute path) to completion with stdin from /dev/null and returns its
// combined stdout and stderr. A non-zero exit is an error that names `what` and shows the output.
Result<std::string> RunCommand(std::string_view what, const std::vector<std::string>& argv,
                               const std::string& cwd, const Identity& as) {
  std::vector<std::string> env = ChildEnvironment(cwd);
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) return InternalError(ErrnoText("open /dev/null"));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return InternalError(ErrnoText("pipe2"));
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  pid_t pid = ::fork();
  if (pid < 0) return InternalError(ErrnoText("fork"));
  if (pid == 0) ExecChild(c_argv.data(), c_env.data(), cwd.c_str(), devnull.get(), pipe_fds[1], as);
  write_end.Reset();

  std::string output;
  std::array<char, 4096> buffer;
  while (true) {
    ssize_t n = ::read(read_end.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < kMaxOutputBytes) output.append(buffer.data(), static_cast<std::size_t>(n));
  }
  int exit_code = WaitForExit(pid);
  if (exit_code != 0) {
    return InternalError(std::string(what) + " failed (exit " + std::to_string(exit_code) +
                         "): " + Tail(output));
  }
  return output;
}

Result<int> PickFreePort() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return InternalError(ErrnoText("socket"));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return InternalError(ErrnoText("bind 127.0.0.1:0"));
  }
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return InternalError(ErrnoText("getsockname"));
  }
  return static_cast<int>(ntohs(address.sin_port));
}

std::uintmax_t FileSize(const std::string& path) {
  std::error_code ec;
  std::uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

std::string ReadFileFrom(const std::string& path, std::uintmax_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(static_cast<std::streamoff>(offset));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `contents` to `path` (mode 0600) and gives it to the cluster's owner.
Status WritePrivateFile(const std::string& path, const std::string& contents, const Identity& as,
                        std::ios::openmode mode = std::ios::trunc) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::out | mode);
    out << contents;
    out.close();
    if (!out) return InternalError("cannot write " + path);
  }
  if (::chmod(path.c_str(), 0600) != 0) return InternalError(ErrnoText("chmod " + path));
  if (as.switch_user && ::chown(path.c_str(), as.uid, as.gid) != 0) {
    return InternalError(ErrnoText("chown " + path));
  }
  return Status::Ok();
}

bool IsBindFailure(std::string_view server_log) {
  return server_log.find("could not bind") != std::string_view::npos ||
         server_log.find("Address already in use") != std::string_view::npos;
}

// Last resort when pg_ctl cannot stop the server: SIGKILL the postmaster named in postmaster.pid.
void KillPostmaster(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  long pid = 0;
  if (in >> pid && pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
}

TestPostgres* g_shared = nullptr;

}  // namespace

Result<std::unique_ptr<TestPostgres>> TestPostgres::Start() {
  std::unique_ptr<TestPostgres> pg(new TestPostgres());
  // On failure `pg`'s destructor stops whatever was started and removes the directory.
  if (Status s = pg->Initialize(); !s.ok()) return s;
  return pg;
}

TestPostgres* TestPostgres::Shared() {
  static TestPostgres* const shared = []() -> TestPostgres* {
    Result<std::unique_ptr<TestPostgres>> started = Start();
    if (!started.ok()) {
      log::Warn("test_postgres.unavailable", {{"error", started.status().ToString()}});
      return nullptr;
    }
    g_shared = started->release();
    std::atexit([] {
      delete g_shared;
      g_shared = nullptr;
    });
    return g_shared;
  }();
  return shared;
}

Status TestPostgres::Initialize() {
  const char* bin_dir = std::getenv(kBinDirEnv);
  bin_dir_ = bin_dir != nullptr && *bin_dir != '\0' ? bin_dir : kDefaultBinDir;
  for (const char* program : {"initdb", "pg_ctl", "postgres"}) {
    std::string path = bin_dir_ + "/" + program;
    if (::access(path.c_str(), X_OK) != 0) {
      return FailedPreconditionError("PostgreSQL server binary " + path +
                                     " is missing; install package postgresql "
                                     "(scripts/install-deps.sh) or set " +
                                     kBinDirEnv);
    }
  }
  if (::geteuid() == 0) {
    // The server refuses to run as root.
    passwd entry{};
    passwd* found = nullptr;
    std::array<char, 4096> buffer;
    if (::getpwnam_r("postgres", &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
      return FailedPreconditionError(
          "running as root, but there is no user postgres to run the PostgreSQL server as");
    }
    switch_user_ = true;
    uid_ = found->pw_uid;
    gid_ = found->pw_gid;
  }
  Identity as{switch_user_, uid_, gid_};

  std::string dir_template = kDirTemplate;
  if (::mkdtemp(dir_template.data()) == nullptr) return InternalError(ErrnoText("mkdtemp"));
  dir_ = dir_template;
  if (switch_user_ && ::chown(dir_.c_str(), uid_, gid_) != 0) {
    return InternalError(ErrnoText("chown " + dir_));
  }
  if (Status s = StartWatchdog(); !s.ok()) return s;

  Result<std::string> password = RandomHex(kPasswordBytes);
  if (!password.ok()) return password.status();
  password_ = *password;
  Result<std::string> admin_password = RandomHex(kPasswordBytes);
  if (!admin_password.ok()) return admin_password.status();
  admin_password_ = *admin_password;

  std::string password_file = dir_ + "/superuser_password";
  if (Status s = WritePrivateFile(password_file, admin_password_ + "\n", as); !s.ok()) return s;
  Result<std::string> initdb =
      RunCommand("initdb",
                 {bin_dir_ + "/initdb", "--pgdata=" + dir_ + "/data", "--username=postgres",
                  "--pwfile=" + password_file, "--auth=scram-sha-256", "--encoding=UTF8",
                  "--locale=C", "--no-instructions", "--no-sync"},
                 dir_, as);
  std::filesystem::remove(password_file);
  if (!initdb.ok()) return initdb.status();
  if (Status s =
          WritePrivateFile(dir_ + "/data/postgresql.conf",
                           std::string("\ninclude '") + kSettingsFile + "'\n", as, std::ios::app);
      !s.ok()) {
    return s;
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = StartServer(/*may_change_port=*/true); !s.ok()) return s;
  // The password is hex, so it needs no quoting beyond the literal's quotes.
  if (Result<std::string> r =
          Query(admin_url(), "CREATE ROLE portcullis LOGIN PASSWORD '" + password_ + "'");
      !r.ok()) {
    return r.status();
  }
  if (Result<std::string> r = Query(admin_url(), "CREATE DATABASE portcullis OWNER portcullis");
      !r.ok()) {
    return r.status();
  }
  return Status::Ok();
}

Status TestPostgres::StartWatchdog() {
  Identity as{switch_user_, uid_, gid_};
  std::vector<std::string> argv = {
      "/bin/sh", "-c", kWatchdogScript, "portcullis-pg-watchdog", dir_, bin_dir_ + "/pg_ctl"};
  std::vector<std::string> env = ChildEnvironment(dir_);
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  Fd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (devnull.get() < 0) return InternalError(ErrnoText("open /dev/null"));
  // A socket pair rather than a pipe, so the destructor's "done" can be sent with MSG_NOSIGNAL.
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    return InternalError(ErrnoText("socketpair"));
  }
  Fd ours(sockets[0]);
  Fd theirs(sockets[1]);

  // Double fork: the watchdog is re-parented to init, outside our process tree, and setsid()
  // keeps a terminal's Ctrl-C away from it.
  pid_t pid = ::fork();
  if (pid < 0) return InternalError(ErrnoText("fork"));
  if (pid == 0) {
    pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    ::setsid();
    ExecChild(c_argv.data(), c_env.data(), "/", sockets[1], devnull.get(), as);
  }
  if (WaitForExit(pid) != 0) return InternalError("cannot start the clean-up watchdog (fork)");
  watchdog_fd_ = ours.Release();
  return Status::Ok();
}

Status TestPostgres::StartServer(bool may_change_port) {
  Identity as{switch_user_, uid_, gid_};
  std::string log_path = dir_ + "/postgres.log";
  std::string failure;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    if (may_change_port) {
      Result<int> port = PickFreePort();
      if (!port.ok()) return port.status();
      port_ = *port;
    }
    std::ostringstream settings;
    settings << "# Written by portcullis store/testing/pg_cluster.cc.\n"
             << "listen_addresses = '127.0.0.1'\n"
             << "port = " << port_ << "\n"
             << "unix_socket_directories = '" << dir_ << "'\n"
             << "shared_buffers = 32MB\n"
             << "max_connections = 200\n"
             << "fsync = on\n"
             << "synchronous_commit = on\n"
             << "full_page_writes = on\n"
             << "timezone = 'UTC'\n"
             << "jit = off\n"
             // After KillImmediate, one syncfs() instead of an fsync() per file of the data
             // directory before crash recovery: ~1 s instead of ~4 s at 4 ms per fsync.
             << "recovery_init_sync_method = syncfs\n";
    if (Status s = WritePrivateFile(dir_ + "/data/" + kSettingsFile, settings.str(), as); !s.ok()) {
      return s;
    }
    std::uintmax_t log_offset = FileSize(log_path);
    Result<std::string> started = RunCommand(
        "pg_ctl start",
        {bin_dir_ + "/pg_ctl", "start", "--pgdata=" + dir_ + "/data", "--log=" + log_path, "--wait",
         "--timeout=" + std::to_string(kPgCtlTimeoutSeconds)},
        dir_, as);
    if (started.ok()) {
      running_ = true;
      return Status::Ok();
    }
    std::string server_log = ReadFileFrom(log_path, log_offset);
    failure = started.status().message() + "; server log: " + Tail(server_log);
    if (!may_change_port || !IsBindFailure(server_log)) break;
  }
  return InternalError("cannot start PostgreSQL on 127.0.0.1:" + std::to_string(port_) + " in " +
                       dir_ + ": " + failure);
}

Status TestPostgres::StopServer(std::string_view mode) {
  if (!running_) return FailedPreconditionError("PostgreSQL is not running");
  Result<std::string> stopped = RunCommand(
      "pg_ctl stop",
      {bin_dir_ + "/pg_ctl", "stop", "--pgdata=" + dir_ + "/data", "--mode=" + std::string(mode),
       "--wait", "--timeout=" + std::to_string(kPgCtlTimeoutSeconds)},
      dir_, Identity{switch_user_, uid_, gid_});
  if (!stopped.ok()) return stopped.status();
  running_ = false;
  return Status::Ok();
}

TestPostgres::~TestPostgres() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ && !StopServer("immediate").ok()) KillPostmaster(dir_ + "/data");
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  if (watchdog_fd_ >= 0) {
    static constexpr char kDone[] = "done\n";
    ssize_t sent = ::send(watchdog_fd_, kDone, sizeof kDone - 1, MSG_NOSIGNAL);
    (void)sent;  // if the watchdog is gone, there is nobody left to tell
    ::close(watchdog_fd_);
  }
}

std::string TestPostgres::url() const { return DatabaseUrl("portcullis"); }

std::string TestPostgres::admin_url() const {
  return "postgresql://postgres:" + admin_password_ + "@127.0.0.1:" + std::to_string(port_) +
         "/postgres";
}

std::string TestPostgres::DatabaseUrl(std::string_view name) const {
  return "postgresql://portcullis:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/" +
         std::string(name);
}

bool TestPostgres::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

Status TestPostgres::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  return StopServer("fast");
}

Status TestPostgres::KillImmediate() {
  std::lock_guard<std::mutex> lock(mu_);
  return StopServer("immediate");
}

Status TestPostgres::Restart() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) {
    if (Status s = StopServer("fast"); !s.ok()) return s;
  }
  return StartServer(/*may_change_port=*/false);
}

Result<std::string> TestPostgres::CreateDatabase(std::string_view name) {
  if (!IsValidDatabaseName(name)) {
    return InvalidArgumentError("database name must be [a-z_][a-z0-9_]*, at most 63 bytes: '" +
                                std::string(name) + "'");
  }
  Result<std::string> created =
      Query(admin_url(), "CREATE DATABASE " + std::string(name) + " OWNER portcullis");
  if (!created.ok()) return created.status();
  return DatabaseUrl(name);
}

Result<std::string> TestPostgres::Query(std::string_view url, std::string_view sql) {
  std::string url_string(url);
  std::string sql_string(sql);
  PgConnPtr conn(PQconnectdb(url_string.c_str()));
  if (conn == nullptr) return InternalError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return UnavailableError("cannot connect to " + RedactUrl(url) + ": " +
                            Tail(PQerrorMessage(conn.get())));
  }
  PgResultPtr result(PQexec(conn.get(), sql_string.c_str()));
  if (result == nullptr) {
    return InternalError("query on " + RedactUrl(url) + ": " + Tail(PQerrorMessage(conn.get())));
  }
  switch (PQresultStatus(result.get())) {
    case PGRES_TUPLES_OK: {
      std::string out;
      for (int row = 0; row < PQntuples(result.get()); ++row) {
        if (row > 0) out += '\n';
        for (int column = 0; column < PQnfields(result.get()); ++column) {
          if (column > 0) out += '|';
          out += PQgetvalue(result.get(), row, column);
        }
      }
      return out;
    }
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
      return std::string();
    default:
      break;
  }
  std::string message =
      "query on " + RedactUrl(url) + " failed: " + Tail(PQresultErrorMessage(result.get()));
  const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  std::string_view code = sqlstate != nullptr ? sqlstate : "";
  if (code == "42P04" || code == "42710") return AlreadyExistsError(message);
  return InternalError(message);
}

}  // namespace portcullis::store::testing
