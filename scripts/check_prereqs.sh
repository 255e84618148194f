#!/usr/bin/env bash
# Checks what `make` cannot install itself: Python 3.11+, Java 17+ (Spark 4 needs it) and Chromium (the status
# page's screenshot test drives it; as root with apt-get it is installed here, else the message says how).
set -u
py="${1:-python3}"
ok=1
if ! command -v "$py" >/dev/null 2>&1; then
  echo "missing: Python 3.11+ ($py not found). Debian/Ubuntu: sudo apt-get install python3 python3-venv; or set PYTHON=/path/to/python3.11" >&2
  ok=0
elif ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "missing: Python 3.11+ ($py is $("$py" -V 2>&1)). Install Python 3.11 or newer and run: make PYTHON=python3.11 ..." >&2
  ok=0
elif ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "missing: the venv module for $py. Debian/Ubuntu: sudo apt-get install python3-venv" >&2
  ok=0
fi
java_bin="java"
[ -n "${JAVA_HOME:-}" ] && java_bin="$JAVA_HOME/bin/java"
if ! command -v "$java_bin" >/dev/null 2>&1; then
  echo "missing: Java 17+ for Spark (no java on PATH). Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; or set JAVA_HOME" >&2
  ok=0
else
  major=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    echo "missing: Java 17+ for Spark (found version ${major:-unknown}). Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; or set JAVA_HOME" >&2
    ok=0
  fi
fi
chromium="${NIGHTSHIFT_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the status page's screenshot test: apt-get install -y chromium" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null && chromium="$(command -v chromium || true)"
fi
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
  echo "missing: Chromium for the status page's screenshot test (tests/e2e/test_morning.py). Debian/Ubuntu: sudo apt-get install chromium; or set NIGHTSHIFT_CHROMIUM=/path/to/chromium" >&2
  ok=0
fi
[ "$ok" = 1 ] || exit 1
