"""A TDS ("SQL Server") endpoint for tests: real SQL Server drivers, PostgreSQL behind.

`with TdsEndpoint(pg_url) as ep:` listens on 127.0.0.1:ep.port; `ep.url("mssqlpython")`
and `ep.url("pyodbc-freetds")` are SQLAlchemy URLs; `ep.stats` counts round trips.
"""

from devstack.tds.server import RequestStats, TdsEndpoint
from devstack.tds.urls import DRIVERS, driver_url, odbc_connection_string

__all__ = ["DRIVERS", "RequestStats", "TdsEndpoint", "driver_url", "odbc_connection_string"]
