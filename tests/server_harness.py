"""A real central-record server on loopback for tests: start, wait until it answers, kill, restart, stop.

Servers are forked from a "zygote" process that has already imported FastAPI, SQLAlchemy and the
server (about 1.5 s of imports): a restart after SIGKILL then costs a fork and the server's own start,
so a test can kill a server dozens of times. Each server is a separate process serving one database on
a free port of 127.0.0.1; a child whose zygote is gone exits by itself.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from sync.server.record import CentralRecord

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("LOVEMART_TEST_DATABASE_URL")
# One client for the whole test process: building one costs 50 ms (it loads the CA bundle even for http).
HTTP = httpx.Client(timeout=30, verify=False)

ZYGOTE = r"""
import json, os, signal, sys, threading, time
import uvicorn
import uvicorn.lifespan.on, uvicorn.loops.auto, uvicorn.protocols.http.auto, uvicorn.protocols.websockets.auto
import sync.server.app

sync.server.app.create_app("sqlite://").state.record.close()  # warm up: migrations, routes, OpenAPI models

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel


def orphan_watch(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


for line in sys.stdin:
    request = json.loads(line)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        if not request.get("verbose"):
            os.dup2(devnull, 2)
        threading.Thread(target=orphan_watch, args=(parent,), daemon=True).start()
        try:
            sync.server.app.serve(request["database_url"], "127.0.0.1", request["port"], log_level="warning",
                                  access_log=False)
        finally:
            os._exit(0)
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
"""


class Zygote:
    """One per test process: forks server processes on request."""

    _instance: Zygote | None = None

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        atexit.register(self.close)

    @classmethod
    def get(cls) -> Zygote:
        if cls._instance is None or cls._instance.proc.poll() is not None:
            cls._instance = Zygote()
        return cls._instance

    def spawn(self, database_url: str, port: int, verbose: bool = False) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"database_url": database_url, "port": port, "verbose": verbose}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ServerProcess:
    """The central record at ``database_url``, served on a fixed free port across restarts."""

    def __init__(self, database_url: str, verbose: bool = False) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.pid: int | None = None
        self.verbose = verbose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.pid = Zygote.get().spawn(self.database_url, self.port, self.verbose)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if HTTP.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.pid is not None and not _alive(self.pid):
                raise RuntimeError(f"the server for {self.database_url} exited at start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server at {self.url} did not answer in {timeout} s")
            time.sleep(0.02)

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pid is not None and _alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, exactly like a power cut of the server process."""
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            self._wait_gone(10)
        self.pid = None

    def stop(self) -> None:
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(10):
                os.kill(self.pid, signal.SIGKILL)
                self._wait_gone(10)
        self.pid = None

    def restart(self) -> None:
        self.kill()
        self.start()


@contextmanager
def running(database_url: str) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database (as ``tests.conftest.pg_url``), dropped afterwards."""
    assert PG_URL, "LOVEMART_TEST_DATABASE_URL is not set"
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def allow_direct_points(record: CentralRecord) -> None:
    """Turn on the township's direct points (``POST /v1/admin/points``): the sync tests award points that way,
    as a township entering its paper passbooks would, instead of walking each award through the workflow."""
    from ledger.access import ConsoleRole, Grant, Person
    from sync.server import awards
    from sync.server.people import Actor, People

    township = Actor.command_line(Person(0, "test set-up", (Grant(ConsoleRole.ADMIN),)))
    awards.set_workflow_settings(record, People(record), township, awards.WorkflowSettings(direct_points=True))
