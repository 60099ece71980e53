"""A server in its own process on a free loopback port, for benchmarks, screenshots and browser tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(module_args: Sequence[str], quiet: bool = True, start_s: float = 120) -> Iterator[str]:
    """Run ``python -m <module_args> --port P`` (``sync.server`` or ``lovemart.cli server``) until the
    block ends; yield its base URL once ``/v1/health`` answers. A server that exits or never answers
    within ``start_s`` seconds is an error, not a hang."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", *module_args, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_s
        with httpx.Client() as http:
            while True:
                try:
                    if http.get(base + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {' '.join(module_args[:2])}")
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
