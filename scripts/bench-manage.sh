#!/usr/bin/env bash
# Times the management endpoints (GET /otp/list, /otp/logs, /otp/attempts, /otp/rate-limits,
# /otp/reports) on a database of VERIFICATIONS verifications (default 1,000,000) with their
# events and attempts, built with the real schema by examples/bench_manage.rs, served by a
# release build of otpd over its Unix socket. Prints a Markdown table for the README.
#
#   scripts/bench-manage.sh [VERIFICATIONS] [REQUESTS_PER_SCENARIO]
set -euo pipefail
verifications=${1:-1000000}
requests=${2:-200}
recipients=$(( verifications / 5 ))
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin otpd --example bench_manage
otpd=target/release/otpd
bench=target/release/examples/bench_manage
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
pid=
mkdir -p "$dir/data"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
"$bench" fill "$dir/data/otpd.db" --verifications "$verifications" --recipients "$recipients"

cat > "$dir/otpd.toml" <<TOML
data_dir = "$dir/data"
[api]
listen = []
TOML
"$otpd" serve --config "$dir/otpd.toml" 2> "$dir/otpd.log" &
pid=$!
until grep -q "otpd is ready" "$dir/otpd.log" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/otpd.log"; exit 1; }
  sleep 0.05
done
# A first pass warms the page cache, as a daemon that has been running would have it.
"$bench" time "$dir/data/otpd.sock" --requests 20 --recipients "$recipients" > /dev/null
"$bench" time "$dir/data/otpd.sock" --requests "$requests" --recipients "$recipients"
echo "RSS after: $(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024 )) MB peak"
