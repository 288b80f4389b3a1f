#!/usr/bin/env bash
# The modem driver's cost: OTPs through 1 and 3 simulated modems (`otpd modem-sim` on
# pseudo-terminals, each taking --send-delay for every AT+CMGS, like a real network), API send
# to "delivered". A modem sends one message at a time, so with one modem each message takes
# the modem's own time plus the driver's overhead; that overhead is what this prints, with
# the throughput of 1 and of 3 modems sharing the load.
#
#   scripts/bench-modem.sh [MESSAGES] [SEND_DELAY]      e.g. scripts/bench-modem.sh 200 50ms
set -euo pipefail
messages=${1:-200}
delay=${2:-50ms}
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin otpd
otpd=$PWD/target/release/otpd
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "each simulated modem takes $delay per AT+CMGS; $messages OTPs per run"
for modems in 1 3; do
  run="$dir/run-$modems"
  mkdir -p "$run"
  {
    echo "data_dir = \"$run/data\""
    echo "[api]"
    echo "listen = []"
    echo "[limits]"
    echo "per_recipient = []"
  } > "$run/otpd.toml"
  for m in $(seq "$modems"); do
    "$otpd" modem-sim --link "$run/modem$m" --send-delay "$delay" > /dev/null 2> "$run/sim$m.log" &
    pids+=($!)
    until grep -q "modem-sim ready" "$run/sim$m.log" 2>/dev/null; do sleep 0.01; done
    printf '[[channel]]\nname = "modem%s"\nkind = "modem"\ndevice = "%s"\n' "$m" "$run/modem$m" >> "$run/otpd.toml"
  done
  "$otpd" serve --config "$run/otpd.toml" 2> "$run/otpd.log" &
  pid=$!
  pids+=($pid)
  # Ready, and every modem through its AT init.
  until [ "$(grep -c "modem ready" "$run/otpd.log" 2>/dev/null)" -ge "$modems" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$run/otpd.log"; exit 1; }
    sleep 0.01
  done
  python3 - "$run/data/otpd.sock" "$run/data/otpd.db" "$messages" "$modems" "$delay" "$pid" <<'PY'
import json, socket, sqlite3, sys, time
sock, db, n, modems, delay, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
delay_s = float(delay[:-2]) / 1000 if delay.endswith("ms") else float(delay.rstrip("s"))
def ticks():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
def send(i):
    body = json.dumps({"recipient": f"+25571{i:07d}"})
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall((f"POST /otp/send HTTP/1.1\r\nHost: otpd\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode())
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
    s.close()
    assert b" 201 " in reply.split(b"\r\n")[0], reply[:200]
before = ticks()
start = time.time()
for i in range(n):
    send(i)
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
deadline = time.time() + 60 + n * delay_s * 2
while True:
    done = con.execute("SELECT count(*) FROM verification WHERE delivery_state = 'delivered'").fetchone()[0]
    if done >= n or time.time() > deadline:
        break
    time.sleep(0.05)
first, last = con.execute("SELECT min(created_at), max(delivered_at) FROM verification").fetchone()
took = (last - first) / 1000
cpu_ms = (ticks() - before) * 10
per = took / done
line = f"{modems} modem(s): {done}/{n} delivered in {took:.2f} s, {done / took:.1f} OTPs/s, {per * 1000:.1f} ms per OTP"
if modems == 1:
    line += f" = {delay_s * 1000:.0f} ms modem + {(per - delay_s) * 1000:.1f} ms driver and daemon"
line += f"; otpd CPU {cpu_ms / done:.2f} ms per OTP"
print(line)
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
