#!/usr/bin/env bash
# Create .venv/ and install fyplake (editable) with the tested dependency pins. Idempotent: pip
# skips what is already installed, and the Makefile only calls this when setup files change.
set -euo pipefail
PYTHON="${1:-python3}"
VENV="${2:-.venv}"
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
  echo "bootstrap: Java 17+ is required for Spark 4 (install a JDK, e.g. openjdk-17-jre-headless)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
echo "bootstrap: installing fyplake and pinned dependencies into $VENV (first time: a few minutes)"
"$VENV/bin/python" -m pip install -q -c constraints.txt -e '.[dev]'
# A class-data sharing archive of the Spark driver JVM (~4 s off every Spark start), built once
# per machine into the user-level cache; best effort, never fatal (drivers start without it).
"$VENV/bin/python" -m infra.class_archive || true
# The web feed page's hls.js and the browser test's chromium: best effort, never fatal.
bash infra/web_setup.sh all || true
echo "bootstrap: done"
