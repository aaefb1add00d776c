"""Self-test of the PostgreSQL fixture (pgcluster.py, the `pg` fixture): logins, isolation,
stop/restart, crash recovery, clean-up. Needs no portcullis binary."""
import os
import signal
import subprocess
import sys
import time

import pytest

from pgcluster import PgCluster, PgClusterError

HERE = os.path.dirname(os.path.abspath(__file__))


def postmaster_pid(cluster):
    with open(os.path.join(cluster.dir, "data", "postmaster.pid"), encoding="utf-8") as f:
        return int(f.readline())


def process_gone(pid):
    """Exited: no such process, or a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def test_session_cluster_has_password_logins_and_the_test_settings(pg):
    assert pg.url == f"postgresql://portcullis:{pg.password}@127.0.0.1:{pg.port}/portcullis"
    assert pg.sql("SELECT current_user, current_database()") == "portcullis|portcullis"
    settings = pg.sql("SELECT current_user, current_setting('fsync'), "
                      "current_setting('max_connections'), current_setting('shared_buffers'), "
                      "current_setting('listen_addresses')", pg.admin_url)
    assert settings == "postgres|on|200|32MB|127.0.0.1"
    wrong = f"postgresql://portcullis:not-the-password@127.0.0.1:{pg.port}/portcullis"
    with pytest.raises(PgClusterError, match="password authentication failed") as e:
        pg.sql("SELECT 1", wrong)
    assert "not-the-password" not in str(e.value)


def test_create_database_gives_an_isolated_database_owned_by_portcullis(pg):
    url = pg.create_database("selftest_isolated")
    assert url == pg.database_url("selftest_isolated")
    assert pg.sql("CREATE TABLE t (id integer); INSERT INTO t VALUES (1); "
                  "SELECT current_database(), count(*) FROM t", url) == "selftest_isolated|1"
    assert pg.sql("SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0"
    with pytest.raises(PgClusterError, match="already exists"):
        pg.create_database("selftest_isolated")
    for bad in ("Bad-Name", "x; DROP DATABASE portcullis", "", "a" * 64, "1abc"):
        with pytest.raises(ValueError):
            pg.create_database(bad)


def test_stop_restart_and_kill_immediate_keep_committed_rows():
    with PgCluster().start() as cluster:
        port = cluster.port
        cluster.sql("CREATE TABLE t (id integer); INSERT INTO t SELECT generate_series(1, 100)")
        cluster.kill_immediate()
        assert not cluster.running
        with pytest.raises(PgClusterError):
            cluster.sql("SELECT 1")
        cluster.restart()  # crash recovery
        assert cluster.port == port
        assert cluster.sql("SELECT count(*) FROM t") == "100"
        cluster.stop()
        with pytest.raises(PgClusterError, match="not running"):
            cluster.stop()
        cluster.restart()
        cluster.restart()  # while running: stops first
        assert cluster.sql("SELECT count(*) FROM t") == "100"
        directory, pid = cluster.dir, postmaster_pid(cluster)
    assert not os.path.exists(directory)
    assert process_gone(pid)
    cluster.close()  # idempotent


def test_watchdog_cleans_up_after_sigkill():
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pgcluster import PgCluster\n"
         "c = PgCluster().start()\n"
         "print(c.dir, open(c.dir + '/data/postmaster.pid').readline().strip(), flush=True)\n"
         "time.sleep(600)\n"],
        cwd=HERE, stdout=subprocess.PIPE, text=True)
    try:
        directory, pid = child.stdout.readline().split()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 30
    while (os.path.exists(directory) or not process_gone(int(pid))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(directory)
    assert process_gone(int(pid))
