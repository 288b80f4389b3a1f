#!/usr/bin/env bash
# Installs the third-party peers of the interop tests (run by the tests themselves when
# missing): into target/interop the `smpp` package from npm, whose server side plays the SMSC,
# and the `smspdudecoder` package from PyPI, which decodes otpd's GSM 03.40 PDUs; from Debian,
# `gammu` (a modem client that must be able to send through `otpd modem-sim`) and
# `python3-gammu` (whose DecodePDU cross-checks otpd's PDUs); and into target/interop/schemathesis
# (a Python virtual environment, for its `st` command) `schemathesis` from PyPI, which fuzzes
# the HTTP API from otpd's own /openapi.json.
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
if ! "$dir/schemathesis/bin/st" --version >/dev/null 2>&1; then
  # A venv, since schemathesis is a command with many dependencies. One that does not run
  # (half installed, or moved: venvs hold absolute paths) is made again.
  rm -rf "$dir/schemathesis"
  python3 -m venv "$dir/schemathesis"
  PIP_ROOT_USER_ACTION=ignore "$dir/schemathesis/bin/python" -m pip install --quiet --disable-pip-version-check schemathesis==4.32.5 >&2 \
    || { rm -rf "$dir/schemathesis"; echo "cannot install schemathesis from PyPI" >&2; exit 1; }
fi
if ! command -v gammu >/dev/null || ! /usr/bin/python3 -c 'import gammu' 2>/dev/null; then
  command -v apt-get >/dev/null || { echo "apt-get is needed to install gammu and python3-gammu for the modem interop tests" >&2; exit 1; }
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q gammu python3-gammu >&2 \
    || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q gammu python3-gammu >&2; }
fi
