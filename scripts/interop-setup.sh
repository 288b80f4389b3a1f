#!/usr/bin/env bash
# Installs the third-party peers of the interop tests into target/interop (run by the tests
# themselves when missing): the `smpp` package from npm, whose server side plays the SMSC, and
# the `smspdudecoder` package from PyPI, which decodes otpd's GSM 03.40 PDUs.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/interop
mkdir -p "$dir"
# One installer at a time: tests run in parallel.
exec 9> "$dir/.lock"
flock 9
if [ ! -f "$dir/node_modules/smpp/package.json" ]; then
  command -v npm >/dev/null || { echo "npm is needed for the SMPP interop test (apt-get install nodejs npm)" >&2; exit 1; }
  npm install --silent --no-audit --no-fund --prefix "$dir" smpp@0.5.1 >&2
fi
if [ ! -d "$dir/py/smspdudecoder" ]; then
  # smspdudecoder 2.x needs bitstring's 3.x API.
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target "$dir/py" smspdudecoder==2.2.0 bitstring==3.1.9 >&2
fi
