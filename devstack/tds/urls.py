"""Connection strings and SQLAlchemy URLs for the drivers tested against the endpoint."""

from __future__ import annotations

import glob
import urllib.parse
from typing import Any

USER, PASSWORD = "sa", "endpoint-accepts-any-password"
DRIVERS = ("mssqlpython", "pyodbc-freetds")


def freetds_driver_path() -> str:
    """Debian's FreeTDS ODBC driver (package tdsodbc); used by path, no odbcinst.ini entry."""
    found = sorted(glob.glob("/usr/lib/*/odbc/libtdsodbc.so"))
    if not found:
        raise RuntimeError("FreeTDS ODBC driver not found: apt-get install tdsodbc")
    return found[0]


def odbc_connection_string(driver: str, host: str, port: int, database: str) -> str:
    """The DBAPI connection string (mssql_python.connect / pyodbc.connect)."""
    if driver == "mssqlpython":
        return (
            f"Server={host},{port};Database={database};UID={USER};PWD={PASSWORD};"
            "Encrypt=no;TrustServerCertificate=yes"
        )
    if driver == "pyodbc-freetds":
        return (
            f"DRIVER={{{freetds_driver_path()}}};Server={host};Port={port};"
            f"Database={database};UID={USER};PWD={PASSWORD};TDS_Version=7.4;ClientCharset=UTF-8"
        )
    raise ValueError(f"unknown driver {driver!r}: one of {DRIVERS}")


def driver_url(driver: str, host: str, port: int, database: str, **query: str) -> str:
    """A SQLAlchemy URL for the endpoint with `driver`."""
    if driver == "mssqlpython":
        params = {"Encrypt": "no", "TrustServerCertificate": "yes", **query}
        scheme = "mssql+mssqlpython"
        return f"{scheme}://{USER}:{PASSWORD}@{host}:{port}/{database}?{urllib.parse.urlencode(params)}"
    if driver == "pyodbc-freetds":
        odbc = odbc_connection_string(driver, host, port, database)
        params = {"odbc_connect": odbc, **query}
        return f"mssql+pyodbc:///?{urllib.parse.urlencode(params)}"
    raise ValueError(f"unknown driver {driver!r}: one of {DRIVERS}")


def dbapi_connect(
    driver: str, host: str, port: int, database: str, *, autocommit: bool = True
) -> Any:
    """A DBAPI connection to the endpoint with `driver` (mssql_python or pyodbc)."""
    conn_str = odbc_connection_string(driver, host, port, database)
    if driver == "mssqlpython":
        import mssql_python

        return mssql_python.connect(conn_str, autocommit=autocommit)
    import pyodbc

    return pyodbc.connect(conn_str, autocommit=autocommit)
