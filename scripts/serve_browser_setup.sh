#!/usr/bin/env bash
# Installs what scripts/serve_browser_test.py needs, on a fresh Debian-like machine:
#   - Chromium: Debian's `chromium` package (apt-get, as root or through passwordless sudo);
#   - Playwright for Python, in a virtualenv kept under ~/.cache so later runs reuse it.
# Playwright's own browser download (`playwright install`) is not used: the test drives the
# system Chromium through `executable_path`.
#
# On success prints `chromium=PATH` and `python=PATH` (the venv's interpreter) on stdout;
# everything else goes to stderr. Exits 3 when something cannot be installed, so callers can
# skip the test loudly instead of failing.
set -uo pipefail

PLAYWRIGHT_VERSION=1.65.2
venv=${EQLC_BROWSER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/eqlc/browser-venv}

find_chromium() {
  command -v chromium || command -v chromium-browser || command -v google-chrome || true
}

chromium=${CHROMIUM:-$(find_chromium)}
if [ -z "$chromium" ]; then
  as_root=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      echo "serve_browser_setup: no Chromium, and not root (nor passwordless sudo) to install it" >&2
      exit 3
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    echo "serve_browser_setup: no Chromium, and no apt-get to install it" >&2
    exit 3
  fi
  echo "serve_browser_setup: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" timeout 900 apt-get update -qq >&2 \
    && "${as_root[@]}" timeout 900 apt-get install -y -qq chromium >&2
  chromium=$(find_chromium)
  if [ -z "$chromium" ]; then
    echo "serve_browser_setup: installing chromium failed" >&2
    exit 3
  fi
fi

if ! "$venv/bin/python" -c "import playwright.sync_api" 2>/dev/null; then
  echo "serve_browser_setup: installing playwright==$PLAYWRIGHT_VERSION into $venv" >&2
  if ! { python3 -m venv "$venv" >&2 \
      && timeout 900 "$venv/bin/pip" install -q "playwright==$PLAYWRIGHT_VERSION" >&2; }; then
    echo "serve_browser_setup: installing Playwright for Python failed" >&2
    exit 3
  fi
fi

echo "chromium=$chromium"
echo "python=$venv/bin/python"
