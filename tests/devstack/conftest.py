"""The TDS endpoint's fixtures (the stand-in's `batigest_url` comes from tests/conftest.py)."""

from devstack.tds.fixtures import tds_driver, tds_endpoint  # noqa: F401 (fixtures)
