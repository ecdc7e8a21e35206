"""Where the source and target are: flags, then environment, then `.env`; never in mappings.

Also hides passwords before anything prints them (`redact`, the one place that does).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, quote_plus, urlencode

import sqlalchemy as sa

from mapper.errors import UsageError

SOURCE_VARIABLE = "MAPPER_SOURCE_URL"
TARGET_VARIABLE = "MAPPER_TARGET_URL"
CACHE_VARIABLE = "MAPPER_CACHE_DIR"
_DRIVERLESS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}
# finds URLs in text (without the punctuation after one); parsing them is left to the drivers
_URL = re.compile(r"""[a-z][a-z0-9+.-]*://\S+?(?=[)\]'",;:.]*(?:\s|$))""", re.IGNORECASE)
_SECRET_OPTION = re.compile(
    r"pass|pwd|secret|token|key|mechanismproperties", re.IGNORECASE
)  # names of query parameters that hold secrets
_HIDDEN = "***"
_MIN_SECRET = 4  # shorter passwords are hidden in URLs, not searched for in free text
_secrets: set[str] = set()  # every password seen in a URL, as given and percent-encoded
Option = TypeVar("Option")  # a query parameter's value: text, or a list of texts


def env_file() -> Path | None:
    """The `.env` of the current directory, or of the nearest folder above it that has one
    (as git finds its repository): a command run in a project's subfolder sees its settings."""
    from dotenv import find_dotenv  # only where a setting is looked for there

    found = find_dotenv(usecwd=True)
    return Path(found) if found else None


def cache_dir() -> Path:
    """Where mapper keeps what it can always make again (the demo database, the mapping files
    known to pass the schema): `MAPPER_CACHE_DIR`, else `$XDG_CACHE_HOME/mapper`, else
    `~/.cache/mapper`."""
    if chosen := os.environ.get(CACHE_VARIABLE):
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mapper"


def setting(name: str, flag: str | None = None) -> str | None:
    """The value of a setting: the flag if given, else the environment, else `.env`."""
    value = flag or os.environ.get(name) or None
    if value is None and (dotenv := env_file()) is not None:
        value = _dotenv_values(dotenv).get(name) or None
    if value:
        redact(value)  # its password is known from now on, wherever a driver quotes it
    return value


def _dotenv_values(path: Path) -> dict[str, str | None]:
    """The variables a `.env` file sets (python-dotenv is imported where one is read)."""
    from dotenv import dotenv_values

    return dotenv_values(path)


def misspelt(name: str) -> list[str]:
    """The variables set in the environment or `.env` whose names look like `name`."""
    found = env_file()
    names = set(os.environ) | set(_dotenv_values(found) if found else ())
    return difflib.get_close_matches(name, sorted(names - {name}), n=3, cutoff=0.8)


def source_url(flag: str | None = None) -> str:
    """The source's SQLAlchemy URL; `postgresql://` (as Supabase gives it) uses psycopg2."""
    url = setting(SOURCE_VARIABLE, flag)
    if not url:
        raise UsageError(
            f"no source: pass --source URL or set {SOURCE_VARIABLE} (or in .env)",
            setting=SOURCE_VARIABLE,
        )
    return sqlalchemy_url(url)


def sqlalchemy_url(url: str) -> str:
    """Give driverless PostgreSQL URLs the psycopg2 driver that mapper ships with."""
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERLESS.get(scheme, scheme)}{sep}{rest}"


def redact(text: str) -> str:
    """`text` safe to print: in every URL in it, the password and the password-like query
    parameters (`password=`, `sslpassword=`, ...) as `***`, parsed by SQLAlchemy or pymongo
    (a URL they cannot parse loses everything before its last `@`); and every password seen in
    a URL so far, anywhere in the text, as given or percent-encoded (drivers' messages)."""
    safe = _URL.sub(lambda match: _redacted_url(match.group()), text)
    for secret in sorted(_secrets, key=len, reverse=True):
        safe = safe.replace(secret, _HIDDEN)
    return safe


def _redacted_url(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    try:
        if scheme in ("mongodb", "mongodb+srv"):
            return _redacted_mongodb(url, scheme)
        return _redacted_sqlalchemy(url)
    except (sa.exc.ArgumentError, ValueError):
        return _without_userinfo(url)


def _redacted_sqlalchemy(url: str) -> str:
    parsed = sa.make_url(url)
    if parsed.host and "@" in parsed.host:  # an unescaped `@` in the password
        return _without_userinfo(url)
    _remember(parsed.password, url.partition("://")[2].rpartition("@")[0].partition(":")[2])
    query = {name: _secret_option(name, value) for name, value in parsed.query.items()}
    rendered = parsed.set(query=query).render_as_string(hide_password=True)
    return rendered.replace(quote(_HIDDEN), _HIDDEN)


def _redacted_mongodb(url: str, scheme: str) -> str:
    from pymongo import errors, uri_parser  # for mongodb:// URLs only: a run needs none

    rest = url.partition("://")[2]
    try:  # the plain scheme: the same parsing without the DNS lookup of an SRV name
        parsed = uri_parser.parse_uri(
            f"mongodb://{rest}", default_port=None, validate=False, normalize=False
        )
    except errors.PyMongoError as error:
        raise ValueError(str(error)) from None
    _remember(parsed["password"], rest.partition("?")[0].rpartition("@")[0].partition(":")[2])
    user = _shown(parsed["username"]) + (f":{_HIDDEN}" if parsed["password"] else "")
    user += "@" if user else ""
    hosts = ",".join(
        (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        for host, port in parsed["nodelist"]
    )
    database = parsed["database"] or ""
    if parsed["collection"]:
        database += f".{parsed['collection']}"
    options = {name: _secret_option(name, value) for name, value in parsed["options"].items()}
    query = f"?{urlencode(options, doseq=True, safe='*:,')}" if options else ""
    return f"{scheme}://{user}{hosts}/{quote(database)}{query}"


def _shown(user: str | None) -> str:
    return "" if not user else user if user == _HIDDEN else quote_plus(user)


def _secret_option(name: str, value: Option) -> Option | str:
    """A query parameter's value, or `***` (and remembered) when its name says secret."""
    if not _SECRET_OPTION.search(name):
        return value
    for item in value if isinstance(value, tuple | list) else [value]:
        _remember(str(item))
    return _HIDDEN


def _without_userinfo(url: str) -> str:
    scheme, _, rest = url.partition("://")
    userinfo, at, hosts = rest.rpartition("@")
    if not at:
        return url
    _remember(userinfo.partition(":")[2])
    return f"{scheme}://{_HIDDEN}@{hosts}"


def _remember(*passwords: str | None) -> None:
    """Know a password from now on, as given, percent-encoded, and cut at the characters
    where a parser that misread its URL would cut it (a driver may quote such a piece)."""
    for password in filter(None, passwords):
        forms = {
            password,
            quote(password, safe=""),
            quote_plus(password),
            *re.split(r"[/@:?#]", password),
        }
        _secrets.update(form for form in forms if len(form) >= _MIN_SECRET)
