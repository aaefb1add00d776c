"""PgCluster: a throwaway PostgreSQL 15 cluster for e2e tests.

The Python twin of src/store/testing/pg_cluster.h; the two behave alike:

    with PgCluster().start() as pg:
        url = pg.create_database("login_tests")    # postgresql://portcullis:...@127.0.0.1:N/...
        pg.sql("SELECT count(*) FROM users", url)  # psql -At output, as a str

Layout: /tmp/portcullis-pg-XXXXXX/ (mode 0700) holds data/ (PGDATA), postgres.log and the unix
socket. Always under /tmp, not $TMPDIR: the socket path must stay below 107 bytes and, as root, be
reachable by user postgres.

Users: the server binaries refuse to run as root, so a root process runs them (and owns the
directory) as user postgres; anyone else runs them as themselves. Superuser `postgres`
(admin_url) and role `portcullis` (url, owner of database `portcullis` and of every database made
by create_database) have random 32-hex-digit passwords; every login is scram-sha-256 over TCP on
127.0.0.1 (and over the socket).

Settings: a free loopback port, shared_buffers = 32MB, max_connections = 200, timezone = 'UTC',
jit = off, recovery_init_sync_method = syncfs, and fsync / synchronous_commit / full_page_writes
stay on, so committed rows survive kill_immediate(). initdb itself runs with --no-sync.

Clean-up: close() (or leaving the `with` block) stops the server and deletes the directory; an
atexit handler and a SIGTERM/SIGHUP handler (installed only where the handler is still the
default) close clusters left open. pg_ctl detaches the server into its own session, so a process
killed with SIGKILL (a ctest timeout) would leave it running: start() therefore also spawns a
detached watchdog shell (double-forked through setsid, outside our process tree) that stops the
server and deletes the directory when this process goes away without saying goodbye.

Only the standard library and the psql client are used (no psycopg2).
"""
import atexit
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import urllib.parse
import weakref

DEFAULT_BIN_DIR = "/usr/lib/postgresql/15/bin"
BIN_DIR_ENV = "PORTCULLIS_TEST_PG_BINDIR"
SETTINGS_FILE = "portcullis_test.conf"
PG_CTL_TIMEOUT_SECONDS = 30
START_ATTEMPTS = 5  # each on a new port, if the last one was taken
COMMAND_TIMEOUT_SECONDS = 120
ERROR_TAIL_CHARS = 2000
MAX_DATABASE_NAME_BYTES = 63  # NAMEDATALEN - 1

# $1 = the directory, $2 = pg_ctl. Runs as the cluster's owner, re-parented to init.
WATCHDOG_SCRIPT = """read -r line
[ "$line" = done ] && exit 0
"$2" stop -D "$1/data" -m immediate -w -t 20 >/dev/null 2>&1
rm -rf -- "$1"
"""


class PgClusterError(RuntimeError):
    """A step of starting, stopping or querying the cluster failed; the message says which."""


def _tail(text):
    text = text.rstrip()
    return text if len(text) <= ERROR_TAIL_CHARS else "..." + text[-ERROR_TAIL_CHARS:]


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redact(url):
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _valid_database_name(name):
    return (0 < len(name) <= MAX_DATABASE_NAME_BYTES and not name[0].isdigit()
            and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_" for c in name))


# Live clusters, for the atexit and signal handlers.
_live = weakref.WeakSet()
_live_lock = threading.RLock()  # re-entrant: the signal handler runs on the main thread
_handlers_installed = False


def _close_all():
    with _live_lock:
        clusters = list(_live)
    for cluster in clusters:
        try:
            cluster.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _on_signal(signum, _frame):
    _close_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _handlers_installed
    with _live_lock:
        if _handlers_installed:
            return
        _handlers_installed = True
    atexit.register(_close_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _on_signal)


class PgCluster:
    """One throwaway cluster. Not started until start(); safe to close() more than once."""

    def __init__(self, bin_dir=None):
        self.bin_dir = bin_dir or os.environ.get(BIN_DIR_ENV) or DEFAULT_BIN_DIR
        self.dir = None
        self.port = None
        self.password = secrets.token_hex(16)
        self.admin_password = secrets.token_hex(16)
        self.running = False
        self._lock = threading.RLock()
        self._watchdog = None
        # As root, run the server binaries as user postgres.
        self._user = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PgClusterError("running as root, but there is no user postgres to run the "
                                     "PostgreSQL server as") from None
            self._user = (entry.pw_uid, entry.pw_gid)

    # --- URLs ---------------------------------------------------------------------------------

    @property
    def url(self):
        """postgresql://portcullis:<password>@127.0.0.1:<port>/portcullis"""
        return self.database_url("portcullis")

    @property
    def admin_url(self):
        """postgresql://postgres:<password>@127.0.0.1:<port>/postgres, the superuser."""
        return f"postgresql://postgres:{self.admin_password}@127.0.0.1:{self.port}/postgres"

    def database_url(self, name):
        """The URL of database `name` for role portcullis (not checked to exist)."""
        return f"postgresql://portcullis:{self.password}@127.0.0.1:{self.port}/{name}"

    # --- life cycle ---------------------------------------------------------------------------

    def start(self):
        """initdb, start, create role and database portcullis. Returns self. About a second."""
        with self._lock:
            if self.dir is not None:
                raise PgClusterError("start() called twice")
            for program in ("initdb", "pg_ctl", "postgres", "psql"):
                path = os.path.join(self.bin_dir, program)
                if not os.access(path, os.X_OK):
                    raise PgClusterError(f"PostgreSQL binary {path} is missing; install package "
                                         f"postgresql (scripts/install-deps.sh) or set "
                                         f"{BIN_DIR_ENV}")
            _install_handlers()
            self.dir = tempfile.mkdtemp(prefix="portcullis-pg-", dir="/tmp")
            with _live_lock:
                _live.add(self)
            try:
                self._start()
            except BaseException:
                self.close()
                raise
            return self

    def _start(self):
        if self._user:
            os.chown(self.dir, *self._user)
        self._start_watchdog()
        password_file = os.path.join(self.dir, "superuser_password")
        self._write_private(password_file, self.admin_password + "\n")
        try:
            self._run("initdb", [
                os.path.join(self.bin_dir, "initdb"), f"--pgdata={self.dir}/data",
                "--username=postgres", f"--pwfile={password_file}", "--auth=scram-sha-256",
                "--encoding=UTF8", "--locale=C", "--no-instructions", "--no-sync"])
        finally:
            os.unlink(password_file)
        with open(os.path.join(self.dir, "data", "postgresql.conf"), "a", encoding="utf-8") as f:
            f.write(f"\ninclude '{SETTINGS_FILE}'\n")
        self._start_server(may_change_port=True)
        # Hex passwords need no quoting beyond the literal's quotes. Two calls: CREATE DATABASE
        # cannot run in the transaction psql -1 or a multi-statement string would open.
        self.sql(f"CREATE ROLE portcullis LOGIN PASSWORD '{self.password}'", self.admin_url)
        self.sql("CREATE DATABASE portcullis OWNER portcullis", self.admin_url)

    def stop(self):
        """pg_ctl stop -m fast: checkpoint and stop; the data stays for restart()."""
        with self._lock:
            self._stop_server("fast")

    def kill_immediate(self):
        """pg_ctl stop -m immediate: like a crash (no checkpoint); restart() runs recovery."""
        with self._lock:
            self._stop_server("immediate")

    def restart(self):
        """Start again on the same port (stopping first, fast, if running)."""
        with self._lock:
            if self.running:
                self._stop_server("fast")
            self._start_server(may_change_port=False)

    def close(self):
        """Stop the server (immediate) and delete the directory. Idempotent."""
        with self._lock:
            if self.running:
                try:
                    self._stop_server("immediate")
                except PgClusterError:
                    self._kill_postmaster()
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
            if self._watchdog is not None:
                try:
                    self._watchdog.stdin.write(b"done\n")
                    self._watchdog.stdin.close()
                except OSError:
                    pass  # the watchdog is gone; nobody left to tell
                self._watchdog = None
            with _live_lock:
                _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- SQL ----------------------------------------------------------------------------------

    def create_database(self, name):
        """Create empty database `name` (owner portcullis) and return its URL."""
        if not _valid_database_name(name):
            raise ValueError(f"database name must be [a-z_][a-z0-9_]*, at most 63 bytes: {name!r}")
        self.sql(f"CREATE DATABASE {name} OWNER portcullis", self.admin_url)
        return self.database_url(name)

    def sql(self, sql, url=None):
        """Run `sql` with psql against `url` (default: self.url); returns the `psql -At` output
        of all its statements (rows joined by newlines, columns by '|', NULL empty).

        Statements run one by one (autocommit); the first error stops and raises PgClusterError.
        A wrong password or a stopped server raise PgClusterError too.
        """
        parts = urllib.parse.urlsplit(url or self.url)
        conninfo = (f"postgresql://{parts.username}@{parts.hostname}:{parts.port}{parts.path}"
                    "?connect_timeout=10")
        env = self._env()
        env["PGPASSWORD"] = parts.password or ""
        r = subprocess.run(
            [os.path.join(self.bin_dir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", conninfo],
            input=sql, capture_output=True, text=True, env=env, cwd=self.dir,
            timeout=COMMAND_TIMEOUT_SECONDS)
        if r.returncode != 0:
            raise PgClusterError(f"psql on {_redact(url or self.url)} failed "
                                 f"(exit {r.returncode}): {_tail(r.stderr + r.stdout)}")
        return r.stdout.rstrip("\n")

    def dump(self, url=None):
        """pg_dump (plain SQL: schema and data, bytea as hex) of the database at `url` (default:
        self.url), as bytes. Raises PgClusterError like sql(). (e2e only: the C++ twin has no
        use for it.)"""
        parts = urllib.parse.urlsplit(url or self.url)
        env = self._env()
        env["PGPASSWORD"] = parts.password or ""
        r = subprocess.run(
            [os.path.join(self.bin_dir, "pg_dump"), "--no-owner", "--no-privileges",
             "-h", parts.hostname, "-p", str(parts.port), "-U", parts.username,
             parts.path.lstrip("/")],
            stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=self.dir,
            timeout=COMMAND_TIMEOUT_SECONDS)
        if r.returncode != 0:
            raise PgClusterError(f"pg_dump of {_redact(url or self.url)} failed "
                                 f"(exit {r.returncode}): "
                                 f"{_tail(r.stderr.decode('utf-8', errors='replace'))}")
        return r.stdout

    # --- internals ----------------------------------------------------------------------------

    def _env(self):
        # Fixed, so PG* variables, locale and TZ of the caller cannot change what runs.
        return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
                "HOME": self.dir}

    def _as_owner(self):
        if not self._user:
            return {}
        return {"user": self._user[0], "group": self._user[1], "extra_groups": []}

    def _run(self, what, argv):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=self._env(), cwd=self.dir,
                           timeout=COMMAND_TIMEOUT_SECONDS, **self._as_owner())
        if r.returncode != 0:
            raise PgClusterError(f"{what} failed (exit {r.returncode}): {_tail(r.stdout)}")
        return r.stdout

    def _write_private(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if self._user:
            os.chown(path, *self._user)

    def _start_watchdog(self):
        # setsid -f forks: the shell ends up in its own session, child of init, so neither a
        # terminal's Ctrl-C nor ctest's kill of our process tree reaches it.
        self._watchdog = subprocess.Popen(
            ["/usr/bin/setsid", "-f", "/bin/sh", "-c", WATCHDOG_SCRIPT, "portcullis-pg-watchdog",
             self.dir, os.path.join(self.bin_dir, "pg_ctl")],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=self._env(), cwd="/", **self._as_owner())
        if self._watchdog.wait(timeout=COMMAND_TIMEOUT_SECONDS) != 0:
            raise PgClusterError("cannot start the clean-up watchdog (setsid -f)")

    def _start_server(self, may_change_port):
        log_path = os.path.join(self.dir, "postgres.log")
        failure = ""
        for _ in range(START_ATTEMPTS):
            if may_change_port:
                self.port = _free_port()
            self._write_private(os.path.join(self.dir, "data", SETTINGS_FILE), "\n".join([
                "# Written by portcullis tests/e2e/pgcluster.py.",
                "listen_addresses = '127.0.0.1'",
                f"port = {self.port}",
                f"unix_socket_directories = '{self.dir}'",
                "shared_buffers = 32MB",
                "max_connections = 200",
                "fsync = on",
                "synchronous_commit = on",
                "full_page_writes = on",
                "timezone = 'UTC'",
                "jit = off",
                # After kill_immediate, one syncfs() instead of an fsync() per file.
                "recovery_init_sync_method = syncfs",
                ""]))
            offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
            try:
                self._run("pg_ctl start", [
                    os.path.join(self.bin_dir, "pg_ctl"), "start", f"--pgdata={self.dir}/data",
                    f"--log={log_path}", "--wait", f"--timeout={PG_CTL_TIMEOUT_SECONDS}"])
                self.running = True
                return
            except PgClusterError as e:
                server_log = ""
                if os.path.exists(log_path):
                    with open(log_path, "rb") as f:
                        f.seek(offset)
                        server_log = f.read().decode("utf-8", errors="replace")
                failure = f"{e}; server log: {_tail(server_log)}"
                bind_failed = ("could not bind" in server_log
                               or "Address already in use" in server_log)
                if not (may_change_port and bind_failed):
                    break
        raise PgClusterError(f"cannot start PostgreSQL on 127.0.0.1:{self.port} in {self.dir}: "
                             f"{failure}")

    def _stop_server(self, mode):
        if not self.running:
            raise PgClusterError("PostgreSQL is not running")
        self._run("pg_ctl stop", [
            os.path.join(self.bin_dir, "pg_ctl"), "stop", f"--pgdata={self.dir}/data",
            f"--mode={mode}", "--wait", f"--timeout={PG_CTL_TIMEOUT_SECONDS}"])
        self.running = False

    def _kill_postmaster(self):
        # Last resort when pg_ctl cannot stop it.
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid"), encoding="utf-8") as f:
                os.kill(int(f.readline()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        self.running = False
