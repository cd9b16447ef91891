"""Stores by name: where each store's artifacts live under one root, and which names are valid.

One deployment serves several stores. The default store keeps the single-store layout (its
builds are ``<root>/<version>`` with ``<root>/current``), so every existing root is the default
store unchanged; a named store's builds are ``<root>/<store>/<version>`` with a ``current`` of
its own. Database rows carry the store name (``default`` for the default store).
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_STORE = "default"
STORE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
STORE_NAME_RULE = (
    "1-40 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit"
)


class InvalidStoreName(ValueError):
    """A store name that cannot be a directory under the root or a URL path segment."""


def check_store_name(name: str) -> str:
    """``name`` when it is a valid store name, else `InvalidStoreName` saying the rule."""
    if not STORE_NAME_PATTERN.fullmatch(name):
        raise InvalidStoreName(f"invalid store name {name!r}: {STORE_NAME_RULE}")
    return name


def is_store_name(name: str) -> bool:
    return STORE_NAME_PATTERN.fullmatch(name) is not None


def store_dir(root: Path, store: str = DEFAULT_STORE) -> Path:
    """The artifact directory of ``store``: the root itself for the default store."""
    check_store_name(store)
    return root if store == DEFAULT_STORE else root / store


def list_stores(root: Path) -> list[str]:
    """Every store with a published build under ``root``, the default store first.

    A named store is a sub-directory with a valid name and a ``current`` file; build
    directories of the default store have a manifest but no ``current``, so they never
    count as stores.
    """
    # Imported here: `recograph --help` reads this module's names without numpy.
    from recograph.artifacts import CURRENT_FILE

    stores = [DEFAULT_STORE] if (root / CURRENT_FILE).is_file() else []
    if root.is_dir():
        stores += sorted(
            child.name
            for child in root.iterdir()
            if child.name != DEFAULT_STORE
            and is_store_name(child.name)
            and (child / CURRENT_FILE).is_file()
        )
    return stores
