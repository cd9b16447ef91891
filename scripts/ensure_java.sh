#!/usr/bin/env bash
# Makes sure a Java 17+ runtime is available for the Spark engine (pyspark starts a JVM).
# Installs Debian's openjdk-17-jre-headless only when no suitable java is found; does nothing
# (and needs no root) otherwise. Respects JAVA_HOME the way pyspark does.
set -euo pipefail

MIN_JAVA=17

java_bin() {
    if [[ -n "${JAVA_HOME:-}" ]]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || true
    fi
}

java_major() {
    local bin version
    bin="$(java_bin)"
    [[ -n "$bin" && -x "$bin" ]] || { echo 0; return; }
    version="$("$bin" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1)"
    case "$version" in
        1.*) version="${version#1.}" ;;
    esac
    echo "${version%%.*}"
}

major="$(java_major)"
if (( ${major:-0} >= MIN_JAVA )); then
    exit 0
fi

echo "ensure_java: no Java ${MIN_JAVA}+ found (found: ${major:-none}); installing openjdk-17-jre-headless" >&2
if ! command -v apt-get >/dev/null; then
    echo "ensure_java: apt-get is not available; install a Java ${MIN_JAVA}+ runtime by hand" >&2
    exit 1
fi
sudo_cmd=()
if (( EUID != 0 )); then
    command -v sudo >/dev/null || { echo "ensure_java: need root (or sudo) to install Java" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless

major="$(java_major)"
if (( ${major:-0} < MIN_JAVA )); then
    echo "ensure_java: installed openjdk-17-jre-headless but java still reports ${major:-none}" \
        "(is JAVA_HOME pointing at an older JDK?)" >&2
    exit 1
fi
