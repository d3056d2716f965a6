#!/usr/bin/env bash
# The browser test: Debian's chromium, driven by playwright-core, against `realtime-lab serve`.
#
#   tests/browser/run.sh            # needs: chromium (apt-get install chromium), node, npm
#
# It builds the release binary, starts `serve` on a free loopback port, opens the page and
# checks that every panel receives events, that a server-side cut makes the EventSource
# reconnect with Last-Event-ID (no event lost or repeated) and the WebSocket reconnect, and that
# Ctrl-C closes the WebSocket with 1001. It saves a screenshot to docs/live-page.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
start=$(date +%s)
command -v chromium >/dev/null || { echo "chromium not found: apt-get install chromium" >&2; exit 2; }
# BROWSER_PROFILE=dev reuses the debug build `cargo test` made (CI); default: release
profile="${BROWSER_PROFILE:-release}"
if [ "$profile" = dev ]; then
  (cd "$root" && cargo build --quiet)
  bin="$root/target/debug/realtime-lab"
else
  (cd "$root" && cargo build --release --quiet)
  bin="$root/target/release/realtime-lab"
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi
BIN="$bin" SHOT="${SHOT:-$root/docs/live-page.png}" node "$here/test.mjs"
echo "browser test passed in $(( $(date +%s) - start )) s"
