"""One typed settings object, read from the environment, `.env` and `credentials.json`.

Precedence (CONTRACT.md): environment > `.env` > `credentials.json` > derived > default.
Modules: `spec` (the table of settings), `parsers`, `files` (where the files are, how
they are read, unknown keys), `derive` (API URL from the SSO URL, Batigest URL from the
`sqlserver` block), `model` (`Settings`, `PgSettings`), `loader` (`load_settings`).
"""

from batisync.core.errors import ConfigError, ConfigErrors
from batisync.core.settings.files import project_root
from batisync.core.settings.loader import describe, load_settings
from batisync.core.settings.model import PgSettings, Settings, dlt_credentials
from batisync.core.settings.secret import Secret

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "PgSettings",
    "Secret",
    "Settings",
    "describe",
    "dlt_credentials",
    "load_settings",
    "project_root",
]
