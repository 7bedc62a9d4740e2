"""A throwaway PostgreSQL server on loopback for the shared-study tests.

Finds the server binaries (PATH, /usr/local/bin, Debian's
/usr/lib/postgresql/*/bin), makes a cluster in a temporary folder, starts it
on a free 127.0.0.1 port with its socket in that folder, and stops it at the
end. PostgreSQL refuses to run as root: as root the cluster belongs to the
unprivileged 'postgres' (or 'nobody') user and the commands run through
``runuser``. :func:`start_server` raises :class:`ServerUnavailable` with the
reason when no server can be had, so that tests skip saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ServerUnavailable(RuntimeError):
    pass


@dataclass
class PgServer:
    url: str
    data_dir: Path
    run_as: str | None
    bin_dir: Path
    folder: Path

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            _run(self.run_as, [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m",
                               "immediate", "-w", "stop"], timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


def find_bin_dir() -> Path | None:
    candidates = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    candidates.append(Path("/usr/local/bin"))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for d in candidates:
        if all((d / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(user: str | None, cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    # From '/': the unprivileged user may not enter the checkout (e.g. under /root).
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          cwd="/")


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServerUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")


def start_server() -> PgServer:
    try:
        import psycopg2  # noqa: F401
    except ImportError as exc:
        raise ServerUnavailable("psycopg2 is not installed (pip install psycopg2-binary)") from exc
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise ServerUnavailable("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; "
                                "install Debian's 'postgresql' package")
    user = _unprivileged_user()
    if user and not shutil.which("runuser"):
        raise ServerUnavailable("running as root without 'runuser' to drop privileges")
    folder = Path(tempfile.mkdtemp(prefix="allgui-pg-"))
    os.chmod(folder, 0o755)
    data_dir = folder / "data"
    if user:
        info = pwd.getpwnam(user)
        os.chown(folder, info.pw_uid, info.pw_gid)
    server = PgServer("", data_dir, user, bin_dir, folder)
    init = _run(user, [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "allgui",
                       "--auth=trust", "-E", "UTF8", "--no-sync"])
    if init.returncode != 0:
        server.stop()
        raise ServerUnavailable(f"initdb failed: {init.stderr.strip()[-400:]}")
    port = _free_port()
    opts = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100")
    start = _run(user, [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", opts, "-l",
                        str(folder / "server.log"), "-w", "-t", "30", "start"])
    if start.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace")[-400:] if (
            folder / "server.log").exists() else ""
        server.stop()
        raise ServerUnavailable(f"the server did not start: {start.stderr.strip()} {log}")
    # 'postgres' is the maintenance database; each test makes its own.
    server.url = f"postgresql://allgui@127.0.0.1:{port}/postgres"
    return server


def create_database(server: PgServer, name: str) -> str:
    """A fresh empty database on the server; returns its URL."""
    import psycopg2

    conn = psycopg2.connect(server.url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return server.url.rsplit("/", 1)[0] + "/" + name
