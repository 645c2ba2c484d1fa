"""`python -m devstack.tds --pg-url URL [--port N]`: serve until Ctrl-C, for manual tries."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from devstack.tds.server import TdsEndpoint
from devstack.tds.urls import DRIVERS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.tds", description=__doc__)
    parser.add_argument("--pg-url", required=True, help="the PostgreSQL database (SQLAlchemy URL)")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each T-SQL statement")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(name)s: %(message)s"
    )
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    with TdsEndpoint(args.pg_url, port=args.port) as ep:
        print(f"TDS endpoint on {ep.host}:{ep.port} (database {ep.database})", flush=True)
        for driver in DRIVERS:
            print(f"  {driver}: {ep.url(driver)}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop as on Ctrl-C
        try:
            while True:
                time.sleep(3600)
        except (KeyboardInterrupt, SystemExit):
            print(f"requests: {ep.stats.by_kind()}", flush=True)


if __name__ == "__main__":
    main()
