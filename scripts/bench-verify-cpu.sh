#!/usr/bin/env bash
# CPU per verify, by thread: where a verify's time goes. Starts a fresh otpd (release build,
# simulated handset), makes VERIFICATIONS sends untimed, then verifies them (one wrong code,
# then the right one) and, over SECONDS of that, prints the verifies per second and the CPU
# time per verify of each otpd thread (the writer, the tokio workers, the checkpointer) and
# of the load generator.
#
#   scripts/bench-verify-cpu.sh [SECONDS] [CONNECTIONS] [VERIFICATIONS] [full|normal]
#       defaults: 2 32 18000 full (the simulated handset keeps 20,000 messages, so at most
#       that). SECONDS (whole) must end before the verifications run out: the bench's next
#       round would start with untimed sends; the script says so if it did.
set -euo pipefail
seconds=${1:-2}
connections=${2:-32}
verifications=${3:-18000}
synchronous=${4:-full}
port=${OTPD_BENCH_PORT:-18805}
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin otpd --example bench
otpd=target/release/otpd
dir=$(mktemp -d)
pid= bench=
trap 'kill "$pid" "$bench" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/otpd.toml" <<TOML
data_dir = "$dir/data"
[api]
listen = ["127.0.0.1:$port"]
[store]
synchronous = "$synchronous"
TOML
"$otpd" serve --config "$dir/otpd.toml" 2> "$dir/otpd.log" &
pid=$!
bench=$pid
until grep -q "otpd is ready" "$dir/otpd.log" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/otpd.log"; exit 1; }
  sleep 0.01
done
key=$("$otpd" key create --config "$dir/otpd.toml" --appid bench)
export OTPD_BENCH_KEY=$(echo "$key" | sed -n 's/.*"api_key": "\(.*\)".*/\1/p')
export OTPD_BENCH_SECRET=$(echo "$key" | sed -n 's/.*"api_secret": "\(.*\)".*/\1/p')

ticks() { awk '{print $14 + $15}' "$1"; }
# CPU ticks per thread name, summed over the threads of that name.
threads() {
  for task in /proc/"$pid"/task/*; do echo "$(cat "$task/comm") $(ticks "$task/stat")"; done |
    awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
verifies() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^otpd_verifies_total/ {s += $2} END {print s + 0}'
}

target/release/examples/bench --url "http://127.0.0.1:$port" --connections "$connections" \
  --seconds "$seconds" --phase verify --verifications "$verifications" > "$dir/bench.out" 2>&1 &
bench=$!
# The sends and the polls of the handset come first; measure from the first verify.
until [ "$(verifies)" -gt 0 ]; do
  kill -0 "$bench" 2>/dev/null || { cat "$dir/bench.out"; exit 1; }
  sleep 0.02
done
threads > "$dir/t0"; c0=$(ticks "/proc/$bench/stat"); v0=$(verifies)
sleep "$seconds"
threads > "$dir/t1"; c1=$(ticks "/proc/$bench/stat"); v1=$(verifies)
wait "$bench" || { cat "$dir/bench.out"; exit 1; }
n=$((v1 - v0)); hz=$(getconf CLK_TCK)
[ "$n" -gt 0 ] || { echo "no verify in the $seconds s measured"; exit 1; }
if ! grep -q "^verify setup .*: 1 rounds" "$dir/bench.out"; then
  echo "warning: the $seconds s outlasted one round of $verifications verifications; the next round's sends are counted too (lower SECONDS)"
fi
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); store: synchronous=$synchronous; $connections connections"
echo "verifies: $n in $seconds s = $((n / seconds))/s; CPU per verify:"
join "$dir/t0" "$dir/t1" | awk -v n="$n" -v hz="$hz" '
  { us = ($3 - $2) / hz * 1e6 / n; s += us; if (us >= 0.05) printf "  %-16s %6.1f µs\n", $1, us }
  END { printf "  %-16s %6.1f µs\n", "otpd, all", s }'
awk -v n="$n" -v hz="$hz" -v c="$((c1 - c0))" 'BEGIN { printf "  %-16s %6.1f µs\n", "load generator", c / hz * 1e6 / n }'
