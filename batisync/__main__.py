"""`python -m batisync …` is the `batisync` console script."""

from batisync.cli import entry_point

if __name__ == "__main__":
    entry_point()
