#!/usr/bin/env bash
# The real browser the report page is checked in: Debian's headless-capable Chromium, with a font for the Chinese
# sample text. Installs them when missing (root: apt-get), then prints the browser's path.
set -euo pipefail
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  [ "$(id -u)" = 0 ] || { echo "browser.sh: chromium (and a CJK font) are not installed, and installing them needs root" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null
fi
command -v chromium
