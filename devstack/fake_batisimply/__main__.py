"""Serve generated data until Ctrl-C: ``python -m devstack.fake_batisimply --port 8765``."""

from __future__ import annotations

import argparse
import contextlib
import threading

from .generator import generate
from .server import FakeBatiSimply


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.fake_batisimply")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--employees", type=int, default=30)
    parser.add_argument("--projects", type=int, default=12)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paged", choices=["content", "data", "items", "elements", "link_only"])
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    dataset = generate(args.employees, args.projects, args.days, seed=args.seed)
    server = FakeBatiSimply(
        dataset,
        port=args.port,
        paged=args.paged is not None,
        paged_shape=args.paged or "content",
        page_size=args.page_size,
        verbose=args.verbose,
    )
    unmatched = [e.id for e in dataset.employees if e.code is None]
    uncoded = [p.id for p in dataset.projects if p.code is None]
    print(f"# fake BatiSimply: {len(dataset.slots)} slots, {len(dataset.employees)} employees")
    print(f"# employees without Batigest match: {unmatched}; projects without code: {uncoded}")
    for name, value in server.settings_env().items():
        print(f"{name}={value}")
    print("# Ctrl-C to stop", flush=True)
    with server, contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
