"""``python -m recograph.schema [PATH]``: regenerate the SDL file (default ./schema.graphql)."""

from __future__ import annotations

import sys
from pathlib import Path

from recograph.api import write_sdl
from recograph.schema import SDL_FILE


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path(SDL_FILE)
    changed = write_sdl(path)
    sys.stdout.write(f"{path}: {'updated' if changed else 'up to date'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
