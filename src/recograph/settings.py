"""Settings read from ``RECOGRAPH_*`` environment variables through an injectable mapping."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from recograph.core.errors import RecographError

N = TypeVar("N", int, float)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/recograph.db"
DEFAULT_DATA_DIR = Path("var/demo")
DEFAULT_ARTIFACTS_DIR = Path("artifacts")


class SettingsError(RecographError, ValueError):
    """A RECOGRAPH_* variable has a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Environment:
    """``RECOGRAPH_*`` variables of one mapping, read through typed getters whose errors name
    the variable: the one reader behind `Settings`, the server's `ServingConfig` and the A/B
    experiment (the sections of `online.configuration.Configuration`), so a value means the
    same wherever it is read. A missing or blank value is the default."""

    values: Mapping[str, str]

    @classmethod
    def of(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """The given mapping, or ``os.environ`` (tests pass a dict)."""
        return cls(os.environ if environ is None else environ)

    def raw(self, key: str) -> str | None:
        value = self.values.get(key)
        return None if value is None or value.strip() == "" else value

    def text(self, key: str, default: str) -> str:
        return self.raw(key) or default

    def flag(self, key: str, default: bool) -> bool:
        raw = self.raw(key)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{key} must be a boolean (true/false), got {raw!r}")

    def integer(self, key: str, default: int, minimum: int | None = None) -> int:
        return self._parsed(key, default, int, "an integer", minimum)

    def number(self, key: str, default: float, minimum: float = 0.0) -> float:
        return self._parsed(key, default, float, "a number", minimum)

    def _parsed(
        self, key: str, default: N, parse: Callable[[str], N], kind: str, minimum: N | None
    ) -> N:
        raw = self.raw(key)
        if raw is None:
            return default
        try:
            value = parse(raw)
        except ValueError:
            raise SettingsError(f"{key} must be {kind}, got {raw!r}") from None
        if minimum is not None and not value >= minimum:  # NaN is below every minimum
            raise SettingsError(f"{key} must be at least {minimum}, got {raw!r}")
        return value

    def items(self, key: str) -> tuple[str, ...]:
        """Comma-separated values, blanks dropped."""
        raw = self.values.get(key, "")
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
    # Several stores (`recograph.stores`): per-store admin tokens and CORS origins (a JSON
    # file), and the memory the loaded named stores may take before the least recently used
    # is unloaded.
    stores_file: Path | None = None
    store_memory_mb: int = 2048

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from a mapping (``os.environ`` by default) so tests can pass a dict."""
        return cls.from_environment(Environment.of(environ))

    @classmethod
    def from_environment(cls, env: Environment) -> Settings:
        """This section of the one configuration (`online.configuration.Configuration`)."""
        production = env.flag("RECOGRAPH_PRODUCTION", False)
        return cls(
            database_url=env.text("RECOGRAPH_DATABASE_URL", DEFAULT_DATABASE_URL),
            data_dir=Path(env.raw("RECOGRAPH_DATA_DIR") or DEFAULT_DATA_DIR),
            artifacts_dir=Path(env.raw("RECOGRAPH_ARTIFACTS") or DEFAULT_ARTIFACTS_DIR),
            host=env.text("RECOGRAPH_HOST", "127.0.0.1"),
            port=env.integer("RECOGRAPH_PORT", 8000),
            debug=env.flag("RECOGRAPH_DEBUG", False),
            production=production,
            admin_token=env.values.get("RECOGRAPH_ADMIN_TOKEN", ""),
            admin_operations=env.flag("RECOGRAPH_ADMIN_OPERATIONS", True),
            graphiql=env.flag("RECOGRAPH_GRAPHIQL", not production),
            introspection=env.flag("RECOGRAPH_INTROSPECTION", not production),
            cors_origins=env.items("RECOGRAPH_CORS_ORIGINS"),
            max_query_depth=env.integer("RECOGRAPH_MAX_QUERY_DEPTH", 12),
            max_aliases=env.integer("RECOGRAPH_MAX_ALIASES", 30),
            max_tokens=env.integer("RECOGRAPH_MAX_TOKENS", 2000),
            max_fields=env.integer("RECOGRAPH_MAX_FIELDS", 300),
            max_body_bytes=env.integer("RECOGRAPH_MAX_BODY_BYTES", 65536),
            stores_file=Path(stores_file)
            if (stores_file := env.raw("RECOGRAPH_STORES_FILE"))
            else None,
            store_memory_mb=env.integer("RECOGRAPH_STORE_MEMORY_MB", 2048),
        )
