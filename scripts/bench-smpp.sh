#!/usr/bin/env bash
# End-to-end OTPs per second over SMPP: API send → submit_sm → receipt → "delivered", against
# `otpd smsc-sim` on loopback, at window 1, 10 and 100. Prints delivered/s and otpd's CPU per
# delivered OTP for each window.
#
#   scripts/bench-smpp.sh [SECONDS] [CONNECTIONS] [WINDOWS...]     e.g. scripts/bench-smpp.sh 5 32 1 10 100
#   OTPD_BENCH_MAX_TPS=1000 scripts/bench-smpp.sh 4 8 10          the link held to max_tps
#   OTPD_BENCH_RTT=20ms scripts/bench-smpp.sh 4 8 1 10 100        link use: smsc-sim answers each
#       submit_sm after 20 ms; the load generator first fills the outbox with the SMSC down,
#       then smsc-sim starts and the script prints submits/s over SECONDS of draining, against
#       min(window / round trip, max_tps), for the set round trip and the one otpd measured
set -euo pipefail
seconds=${1:-5}
connections=${2:-32}
shift $(( $# > 2 ? 2 : $# )) || true
windows=("$@")
[ ${#windows[@]} -gt 0 ] || windows=(1 10 100)
api_port=${OTPD_BENCH_PORT:-18810}
smsc_port=${OTPD_BENCH_SMSC_PORT:-18775}
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin otpd --example bench
otpd=target/release/otpd
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"; }
# Waits until FILE has PATTERN, while process PID lives, for 60 s at most.
await_line() {
  local file=$1 pattern=$2 pid=$3 until=$((SECONDS + 60))
  until grep -q "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $until ] || { echo "no \"$pattern\" in $file:"; cat "$file"; exit 1; }
    sleep 0.01
  done
}
trap cleanup EXIT

rtt=${OTPD_BENCH_RTT:-}
stall=()
[ -n "$rtt" ] && stall=(--stall "$rtt")
start_smsc() {
  rm -f "$dir/smsc.log"
  "$otpd" smsc-sim --listen "127.0.0.1:$smsc_port" --system-id otpd --password pw "${stall[@]}" 2> "$dir/smsc.log" &
  smsc=$!
  pids+=("$smsc")
  await_line "$dir/smsc.log" listening "$smsc"
}
# Link use is measured with the outbox full: with a round trip, smsc-sim starts only once the
# load generator has filled it (see below).
[ -n "$rtt" ] || start_smsc

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load generator, otpd and smsc-sim share them"
for window in "${windows[@]}"; do
  data="$dir/data-$window"
  cat > "$dir/otpd-$window.toml" <<TOML
data_dir = "$data"
[api]
listen = ["127.0.0.1:$api_port"]
[[channel]]
name = "smsc"
kind = "smpp"
host = "127.0.0.1"
port = $smsc_port
system_id = "otpd"
password = "pw"
source_addr = "Bench"
window = $window
max_tps = ${OTPD_BENCH_MAX_TPS:-100000}
TOML
  "$otpd" serve --config "$dir/otpd-$window.toml" 2> "$dir/otpd-$window.log" &
  pid=$!
  pids+=("$pid")
  ready="SMPP link bound"
  [ -n "$rtt" ] && ready="otpd is ready"
  await_line "$dir/otpd-$window.log" "$ready" "$pid"
  key=$("$otpd" key create --config "$dir/otpd-$window.toml" --appid bench)
  export OTPD_BENCH_KEY=$(echo "$key" | sed -n 's/.*"api_key": "\(.*\)".*/\1/p')
  export OTPD_BENCH_SECRET=$(echo "$key" | sed -n 's/.*"api_secret": "\(.*\)".*/\1/p')
  before=$(ticks "$pid")
  if [ -n "$rtt" ]; then
    # Fill the outbox while no SMSC is up (2 s more than the draining needs at 5,000/s and
    # more), then start smsc-sim: otpd's link reconnects within its backoff.
    target/release/examples/bench --url "http://127.0.0.1:$api_port" --connections "$connections" \
      --seconds "$((seconds + 3))" --phase send | grep "^send:" | sed "s/^/window $window: filled the outbox: /"
    start_smsc
    await_line "$dir/otpd-$window.log" "SMPP link bound" "$pid"
  else
    target/release/examples/bench --url "http://127.0.0.1:$api_port" --connections "$connections" \
      --seconds "$seconds" --phase send | grep "^send:" | sed "s/^/window $window: /"
  fi
  # Wait until every accepted send has its receipt (or 60 s).
  python3 - "$data/otpd.db" "$pid" "$before" "$window" "$rtt" "${OTPD_BENCH_MAX_TPS:-100000}" "$seconds" "$api_port" <<'PY'
import sqlite3, sys, time, os, re, urllib.request
db, pid, before, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rtt, max_tps, seconds, api_port = sys.argv[5], int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
if rtt:
    # Link use: the outbox was filled before the link came up, so count the submits accepted
    # in a window that starts 1 s after the first (the link warmed up) and lasts `seconds`.
    rtt_s = float(rtt[:-2]) / 1000 if rtt.endswith("ms") else float(rtt.rstrip("s"))
    if rtt_s <= 0:
        sys.exit(f"OTPD_BENCH_RTT={rtt}: give a round trip above zero, in ms or s")
    first, deadline = None, time.time() + 60
    while first is None:
        first = con.execute("SELECT min(submitted_at) FROM verification").fetchone()[0]
        if first is None and time.time() > deadline:
            sys.exit(f"window {window}: no submit was accepted within 60 s")
        time.sleep(0.05)
    start, end = first + 1000, first + 1000 + seconds * 1000
    # The round trip otpd saw (submit_sm written → submit_sm_resp read) over the same window,
    # from its own metrics: smsc-sim's timer fires on a millisecond tick, so it answers a
    # little later than set. It includes otpd's own delay in reading each response.
    def round_trips():
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics").read().decode()
        total = lambda name: sum(float(v) for v in re.findall(rf"^otpd_smpp_round_trip_seconds_{name}{{[^}}]*}} (\S+)$", metrics, re.M))
        return total("sum"), total("count")
    def sleep_until(ms):
        while time.time() * 1000 < ms:
            time.sleep(0.01)
    sleep_until(start)
    sum0, count0 = round_trips()
    sleep_until(end)
    sum1, count1 = round_trips()
    time.sleep(0.5)
    count = lambda col: con.execute(f"SELECT count(*) FROM verification WHERE {col} > ? AND {col} <= ?", (start, end)).fetchone()[0]
    left = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    if count1 <= count0:
        sys.exit(f"window {window}: no submit_sm was answered in the window")
    seen = (sum1 - sum0) / (count1 - count0)
    bound = min(int(window) / rtt_s, max_tps)
    bound_seen = min(int(window) / seen, max_tps)
    rate = count("submitted_at") / seconds
    print(f"window {window}: round trip {rtt} set, {seen * 1000:.1f} ms seen: {rate:.0f} submits/s accepted "
          f"({count('delivered_at') / seconds:.0f} receipts/s recorded, {left} messages still queued after); "
          f"min(window / round trip, max_tps) = {bound:.0f}/s set, {bound_seen:.0f}/s seen; "
          f"link use {100 * rate / bound:.0f}% of set, {100 * rate / bound_seen:.0f}% of seen")
    if left == 0:
        print(f"window {window}: the outbox ran dry before the window ended: fill it longer (more CONNECTIONS)")
    sys.exit(0)
deadline = time.time() + 60
while True:
    total, delivered = con.execute("SELECT count(*), count(*) FILTER (WHERE delivery_state = 'delivered') FROM verification").fetchone()
    if delivered == total or time.time() > deadline:
        break
    time.sleep(0.2)
first, last = con.execute("SELECT min(created_at), max(delivered_at) FROM verification").fetchone()
with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
after = int(fields[11]) + int(fields[12])
hz = os.sysconf("SC_CLK_TCK")
span = max((last or first) - first, 1) / 1000
cpu_us = (after - before) / hz * 1e6 / max(delivered, 1)
print(f"window {window}: {delivered} of {total} delivered in {span:.2f} s = {delivered / span:.0f} delivered OTPs/s end to end; otpd CPU {cpu_us:.0f} µs per delivered OTP")
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ -n "$rtt" ]; then kill "$smsc"; wait "$smsc" 2>/dev/null || true; fi
  pids=()
  [ -n "$rtt" ] || pids+=("$smsc")
done
