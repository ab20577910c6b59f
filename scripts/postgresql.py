"""Debian's PostgreSQL in a throwaway data folder on a loopback port, for the tools that need a real
server: `make chaos` (scripts/chaos.py) and `make bench` (bench/). scripts/test-postgres.sh starts
it the same way for the test suite. As root, the server runs as `postgres` (initdb refuses root)."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HOST = "127.0.0.1"


class PostgreSQLError(RuntimeError):
    """PostgreSQL is not installed, or one of its commands failed (the message says which)."""


class PostgreSQL:
    """The newest installed server, in a folder of its own (named with `prefix`) on `port`;
    `fsync=False` for a server whose data does not matter when the machine crashes."""

    def __init__(self, *, port: int, prefix: str = "postgres-", fsync: bool = True):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        bins = [b for b in bins if (b / "initdb").exists() and (b / "pg_ctl").exists()]
        if not bins:
            raise PostgreSQLError("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.bin = bins[-1]
        self.port = port
        self.fsync = fsync
        # A folder of its own: the server's user must be able to enter it.
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.as_owner: list[str] = []
        if os.getuid() == 0:
            shutil.chown(self.folder, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"

    def _run(self, *command: str) -> None:
        done = subprocess.run(  # noqa: S603 - Debian's binaries, fixed arguments
            [*self.as_owner, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise PostgreSQLError(f"{' '.join(command[:2])} failed:\n{done.stdout}{done.stderr}")

    def _pg_ctl(self, *arguments: str) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
            "-w", "-t", "60", *arguments,
        )  # fmt: skip

    def start(self, *databases: str) -> "PostgreSQL":
        """initdb, start, and create `databases`."""
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-locale", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-c listen_addresses={HOST} -p {self.port} -k {self.folder}"
        if not self.fsync:
            options += " -c fsync=off"
        self._pg_ctl("-o", options, "start")
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            for name in databases:
                connection.execute(f"CREATE DATABASE {name}")
        return self

    def url(self, database: str) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server back within seconds."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        """Stop at once (whatever runs) and delete the folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603 - Debian's binary, fixed arguments
                [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                 "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)
