#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (idempotent; a no-op when
# /usr/bin/chromium already runs). Needs root or passwordless sudo; otherwise it says why and
# exits 0 so the browser tests skip with that reason instead of failing the whole run.
set -euo pipefail

CHROMIUM="${RECOGRAPH_CHROMIUM:-/usr/bin/chromium}"

if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure_chromium: $CHROMIUM is missing and neither root nor sudo is available;" \
        "browser tests will be skipped" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available;" \
        "browser tests will be skipped" >&2
    exit 0
fi

echo "ensure_chromium: installing Debian's chromium" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }; then
    echo "ensure_chromium: apt-get could not install chromium; browser tests will be skipped" >&2
    exit 0
fi
"$CHROMIUM" --version >&2
