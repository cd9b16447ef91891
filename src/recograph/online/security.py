"""What a server refuses to start with.

`check_settings` runs in `recograph.serving.app.create_app` (so every uvicorn worker checks)
and in ``recograph serve`` before anything starts. It refuses limits below 1 everywhere, and in
production mode (``RECOGRAPH_PRODUCTION``):

- admin operations (``RECOGRAPH_ADMIN_OPERATIONS``, on by default) with an empty, well-known
  or short ``RECOGRAPH_ADMIN_TOKEN``: anyone could reload builds or read e-mail addresses;
- ``*`` in ``RECOGRAPH_CORS_ORIGINS``: CORS is an explicit allow-list;
- ``RECOGRAPH_DEBUG``: debug mode shows internal error messages to clients.
"""

from __future__ import annotations

from recograph.settings import Settings, SettingsError

MIN_ADMIN_TOKEN_LENGTH = 16
# Tokens copied from examples and tutorials; compared case-insensitively.
WELL_KNOWN_TOKENS = frozenset(
    {
        "admin",
        "admin-token",
        "changeme",
        "change-me",
        "default",
        "letmein",
        "password",
        "recograph",
        "s3cret",
        "secret",
        "test",
        "token",
    }
)


def admin_token_problem(token: str) -> str | None:
    """Why ``token`` must not guard admin operations in production, or None when it may."""
    stripped = token.strip()
    if not stripped:
        return "is empty"
    if stripped.lower() in WELL_KNOWN_TOKENS:
        return "is a well-known default"
    if len(stripped) < MIN_ADMIN_TOKEN_LENGTH:
        return f"is shorter than {MIN_ADMIN_TOKEN_LENGTH} characters"
    return None


def check_settings(settings: Settings) -> None:
    """Raise `SettingsError` (naming the variable) for settings a server must not run with."""
    limits = (
        ("RECOGRAPH_MAX_QUERY_DEPTH", settings.max_query_depth),
        ("RECOGRAPH_MAX_ALIASES", settings.max_aliases),
        ("RECOGRAPH_MAX_TOKENS", settings.max_tokens),
        ("RECOGRAPH_MAX_FIELDS", settings.max_fields),
        ("RECOGRAPH_MAX_BODY_BYTES", settings.max_body_bytes),
    )
    for name, value in limits:
        if value < 1:
            raise SettingsError(f"{name} must be at least 1, got {value}")
    if not settings.production:
        return
    if settings.admin_operations:
        problem = admin_token_problem(settings.admin_token)
        if problem is not None:
            raise SettingsError(
                f"RECOGRAPH_PRODUCTION is on with admin operations enabled, but "
                f"RECOGRAPH_ADMIN_TOKEN {problem}: set a random token of at least "
                f"{MIN_ADMIN_TOKEN_LENGTH} characters, or RECOGRAPH_ADMIN_OPERATIONS=false"
            )
    if "*" in settings.cors_origins:
        raise SettingsError(
            "RECOGRAPH_CORS_ORIGINS must list the allowed origins in production, not '*'"
        )
    if settings.debug:
        raise SettingsError(
            "RECOGRAPH_DEBUG must be off in production (it shows internal error messages)"
        )
