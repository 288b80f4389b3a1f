#!/usr/bin/env bash
# Installs the third-party SMPP peer for the interop test: the `smpp` package from npm (its
# server side plays the SMSC), into target/interop. Run by the test itself when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/interop
if [ -f "$dir/node_modules/smpp/package.json" ]; then exit 0; fi
mkdir -p "$dir"
command -v npm >/dev/null || { echo "npm is needed for the SMPP interop test (apt-get install nodejs npm)" >&2; exit 1; }
npm install --silent --no-audit --no-fund --prefix "$dir" smpp@0.5.1 >&2
