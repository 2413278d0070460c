#!/usr/bin/env bash
# The web feed page's outside pieces, idempotent, never fatal (the API runs without them):
#   1. hls.js, pinned, from npm into serving_api/static/vendor/ (the API serves it at /web/vendor/;
#      no CDN at run time); checked against the pinned sha256 of the file.
#   2. Debian's chromium + chromium-driver for the browser test and bench/playback.py, with apt-get
#      when missing (as root, or through passwordless sudo); elsewhere a hint.
set -uo pipefail
cd "$(dirname "$0")/.."

HLSJS_VERSION=1.7.4
HLSJS_SHA256=cfc70cc9e9fc63d071919e087670abc760c8fd1bc889b88588026e4d22193bbe
VENDOR=serving_api/static/vendor

fetch_hlsjs() {
  local dest="$VENDOR/hls.min.js"
  if [ -f "$dest" ] && echo "$HLSJS_SHA256  $dest" | sha256sum -c --status 2>/dev/null; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "web_setup: npm not found; the web feed page needs hls.js $HLSJS_VERSION in $dest" >&2
    return 1
  fi
  local tmp
  tmp="$(mktemp -d)"
  echo "web_setup: fetching hls.js $HLSJS_VERSION (npm pack)"
  if (cd "$tmp" && npm pack "hls.js@$HLSJS_VERSION" --silent >/dev/null 2>&1) &&
    tar -xzf "$tmp/hls.js-$HLSJS_VERSION.tgz" -C "$tmp" package/dist/hls.min.js package/LICENSE &&
    echo "$HLSJS_SHA256  $tmp/package/dist/hls.min.js" | sha256sum -c --status; then
    mkdir -p "$VENDOR"
    cp "$tmp/package/LICENSE" "$VENDOR/hls.js.LICENSE"
    cp "$tmp/package/dist/hls.min.js" "$dest.tmp" && mv "$dest.tmp" "$dest"
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$tmp"
  echo "web_setup: could not fetch hls.js $HLSJS_VERSION (or its checksum differs)" >&2
  return 1
}

install_chromium() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "web_setup: chromium/chromedriver missing; install chromium and chromium-driver as root" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "web_setup: chromium/chromedriver missing and no apt-get here; install them by hand" >&2
    return 1
  fi
  echo "web_setup: installing chromium + chromium-driver (apt-get)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium chromium-driver >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null 2>&1 &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium chromium-driver >/dev/null 2>&1; } ||
    { echo "web_setup: apt-get could not install chromium chromium-driver" >&2; return 1; }
}

case "${1:-all}" in
  hlsjs) fetch_hlsjs ;;
  chromium) install_chromium ;;
  all) fetch_hlsjs; install_chromium; exit 0 ;;
  *) echo "usage: $0 [all|hlsjs|chromium]" >&2; exit 2 ;;
esac
