#!/usr/bin/env bash
# Loads a freshly started otpd (release build, simulated handset) over loopback HTTP and
# prints sends/s and verifies/s with p50/p99 latency, start-to-ready time and memory.
#
#   scripts/bench.sh [SECONDS] [CONNECTIONS] [synchronous]      e.g. scripts/bench.sh 10 64 full
set -euo pipefail
seconds=${1:-10}
connections=${2:-64}
synchronous=${3:-full}
port=${OTPD_BENCH_PORT:-18800}
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin otpd --example bench
otpd=target/release/otpd
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/otpd.toml" <<TOML
data_dir = "$dir/data"
[api]
listen = ["127.0.0.1:$port"]
[store]
synchronous = "$synchronous"
TOML

start=$(date +%s%N)
"$otpd" serve --config "$dir/otpd.toml" 2> "$dir/otpd.log" &
pid=$!
until grep -q "otpd is ready" "$dir/otpd.log" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/otpd.log"; exit 1; }
  sleep 0.01
done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")

key=$("$otpd" key create --config "$dir/otpd.toml" --appid bench)
export OTPD_BENCH_KEY=$(echo "$key" | sed -n 's/.*"api_key": "\(.*\)".*/\1/p')
export OTPD_BENCH_SECRET=$(echo "$key" | sed -n 's/.*"api_secret": "\(.*\)".*/\1/p')

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "store: synchronous=$synchronous; start to ready: ${ready_ms} ms (process start included); idle RSS: $((idle_rss / 1024)) MB"
status=0
target/release/examples/bench --url "http://127.0.0.1:$port" --connections "$connections" --seconds "$seconds" || status=$?
echo "peak RSS under load: $(( $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024 )) MB"
exit $status
