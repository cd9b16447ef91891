"""Settings read from ``RECOGRAPH_*`` environment variables through an injectable mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recograph.core.errors import RecographError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/recograph.db"
DEFAULT_DATA_DIR = Path("var/demo")
DEFAULT_ARTIFACTS_DIR = Path("artifacts")


class SettingsError(RecographError, ValueError):
    """A RECOGRAPH_* variable has a value that cannot be used; the message names it."""


def _flag(environ: Mapping[str, str], key: str, default: bool) -> bool:
    raw = environ.get(key)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{key} must be a boolean (true/false), got {raw!r}")


def _int(environ: Mapping[str, str], key: str, default: int) -> int:
    raw = environ.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be an integer, got {raw!r}") from None


def _list(environ: Mapping[str, str], key: str) -> tuple[str, ...]:
    raw = environ.get(key, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the CLI and the server can be configured with."""

    database_url: str = DEFAULT_DATABASE_URL
    data_dir: Path = DEFAULT_DATA_DIR
    artifacts_dir: Path = DEFAULT_ARTIFACTS_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    production: bool = False
    admin_token: str = ""
    admin_operations: bool = True  # reloadArtifacts and e-mails for the admin token
    graphiql: bool = True
    introspection: bool = True
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_fields: int = 300
    max_body_bytes: int = 65536

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from a mapping (``os.environ`` by default) so tests can pass a dict."""
        env = os.environ if environ is None else environ
        production = _flag(env, "RECOGRAPH_PRODUCTION", False)
        return cls(
            database_url=env.get("RECOGRAPH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            data_dir=Path(env.get("RECOGRAPH_DATA_DIR") or DEFAULT_DATA_DIR),
            artifacts_dir=Path(env.get("RECOGRAPH_ARTIFACTS") or DEFAULT_ARTIFACTS_DIR),
            host=env.get("RECOGRAPH_HOST") or "127.0.0.1",
            port=_int(env, "RECOGRAPH_PORT", 8000),
            debug=_flag(env, "RECOGRAPH_DEBUG", False),
            production=production,
            admin_token=env.get("RECOGRAPH_ADMIN_TOKEN", ""),
            admin_operations=_flag(env, "RECOGRAPH_ADMIN_OPERATIONS", True),
            graphiql=_flag(env, "RECOGRAPH_GRAPHIQL", not production),
            introspection=_flag(env, "RECOGRAPH_INTROSPECTION", not production),
            cors_origins=_list(env, "RECOGRAPH_CORS_ORIGINS"),
            max_query_depth=_int(env, "RECOGRAPH_MAX_QUERY_DEPTH", 12),
            max_aliases=_int(env, "RECOGRAPH_MAX_ALIASES", 30),
            max_tokens=_int(env, "RECOGRAPH_MAX_TOKENS", 2000),
            max_fields=_int(env, "RECOGRAPH_MAX_FIELDS", 300),
            max_body_bytes=_int(env, "RECOGRAPH_MAX_BODY_BYTES", 65536),
        )
