"""`python -m batisync …` is the `batisync` console script."""

from batisync.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
