"""Where the source and target are: flags, then environment, then `.env`; never in mappings.

Also hides passwords in URLs before anything prints them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dotenv import dotenv_values

from mapper.errors import UsageError

SOURCE_VARIABLE = "MAPPER_SOURCE_URL"
TARGET_VARIABLE = "MAPPER_TARGET_URL"
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@]*):(?P<password>[^@/]*)@",
                       re.IGNORECASE)
_DRIVERLESS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


def setting(name: str, flag: str | None = None, env_file: Path = Path(".env")) -> str | None:
    """The value of a setting: the flag if given, else the environment, else `.env`."""
    if flag:
        return flag
    if os.environ.get(name):
        return os.environ[name]
    if env_file.is_file():
        return dotenv_values(env_file).get(name) or None
    return None


def source_url(flag: str | None = None) -> str:
    """The source's SQLAlchemy URL; `postgresql://` (as Supabase gives it) uses psycopg2."""
    url = setting(SOURCE_VARIABLE, flag)
    if not url:
        raise UsageError(f"no source: pass --source URL or set {SOURCE_VARIABLE} (or in .env)")
    return sqlalchemy_url(url)


def sqlalchemy_url(url: str) -> str:
    """Give driverless PostgreSQL URLs the psycopg2 driver that mapper ships with."""
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERLESS.get(scheme, scheme)}{sep}{rest}"


def redact(url: str) -> str:
    """The URL with its password replaced by `***`, safe to print."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
