#!/usr/bin/env bash
# Crash loop: sends OTPs through otpd to `otpd smsc-sim` while killing otpd with SIGKILL at
# random moments, then checks that every accepted send was delivered or failed with a reason,
# and counts the duplicates the SMSC received (scripts/crash_loop.py says how).
#
#   scripts/crash-loop.sh [KILLS] [SEED]          e.g. scripts/crash-loop.sh 60
#   OTPD_CRASH_WINDOW=100 scripts/crash-loop.sh   the SMPP window (default 10)
set -euo pipefail
kills=${1:-60}
seed=${2:-$(date +%s)}
window=${OTPD_CRASH_WINDOW:-10}
smsc_port=${OTPD_CRASH_SMSC_PORT:-18776}
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin otpd
otpd=$PWD/target/release/otpd
dir=$(mktemp -d)
smsc=
# OTPD_CRASH_KEEP=1 keeps the directory (logs, database, the SMSC's record) for a look.
cleanup() {
  [ -n "$smsc" ] && kill "$smsc" 2>/dev/null; wait 2>/dev/null || true
  if [ -n "${OTPD_CRASH_KEEP:-}" ]; then echo "kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

# Receipts come 200 ms after each submit, so that kills also land between a submit and its
# receipt; smsc-sim keeps undelivered receipts for the next bind.
"$otpd" smsc-sim --listen "127.0.0.1:$smsc_port" --system-id otpd --password pw \
  --dlr-delay 200ms --record "$dir/smsc.jsonl" 2> "$dir/smsc.log" &
smsc=$!
until grep -q "listening" "$dir/smsc.log" 2>/dev/null; do sleep 0.01; done

cat > "$dir/otpd.toml" <<TOML
data_dir = "$dir/data"
[api]
listen = []
[[channel]]
name = "smsc"
kind = "smpp"
host = "127.0.0.1"
port = $smsc_port
system_id = "otpd"
password = "pw"
source_addr = "Crash"
window = $window
max_tps = 10000     # the default (50/s) would take minutes over what the loop accepts
TOML
python3 scripts/crash_loop.py --otpd "$otpd" --config "$dir/otpd.toml" \
  --socket "$dir/data/otpd.sock" --record "$dir/smsc.jsonl" --log "$dir/otpd.log" \
  --kills "$kills" --window "$window" --seed "$seed" || {
  status=$?
  echo "the daemons' log: (last 40 lines)"; tail -40 "$dir/otpd.log"
  exit $status
}
