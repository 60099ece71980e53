"""``python -m sync.server``: the central record without the ``lovemart`` command (tests, systemd units)."""

from __future__ import annotations

import argparse
import os

from sync.server.app import DATABASE_ENV, serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sync.server", description="the central record's HTTP API")
    parser.add_argument("--database-url", default=os.environ.get(DATABASE_ENV, "sqlite:///central.sqlite3"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args()
    serve(
        args.database_url,
        args.host,
        args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
