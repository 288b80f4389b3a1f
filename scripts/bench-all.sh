#!/usr/bin/env bash
# Every figure of DESIGN.md's targets in one run: accepted sends/s and verifies/s with p50/p99
# (scripts/bench.sh), start-to-ready time, idle and peak memory, and end-to-end delivered OTPs/s
# over SMPP at window 100 with otpd's CPU per delivered OTP (scripts/bench-smpp.sh), SMPP link
# use at window 100 against a 20 ms round trip (the same script), followed by the targets to
# compare with.
#
#   scripts/bench-all.sh [SECONDS] [CONNECTIONS]       default: 5 32
set -euo pipefail
seconds=${1:-5}
connections=${2:-32}
cd "$(dirname "$0")/.."

echo "== API: sends, verifies, start-up, memory (scripts/bench.sh $seconds $connections)"
scripts/bench.sh "$seconds" "$connections"
echo
echo "== end to end over SMPP at window 100 (scripts/bench-smpp.sh $seconds $connections 100)"
scripts/bench-smpp.sh "$seconds" "$connections" 100
echo
echo "== SMPP link use at window 100, 20 ms round trip (OTPD_BENCH_RTT=20ms scripts/bench-smpp.sh 4 8 100)"
OTPD_BENCH_RTT=20ms scripts/bench-smpp.sh 4 8 100
cat <<'TARGETS'

== targets (DESIGN.md, on the 2-core build machine)
accepted sends          >= 10,000/s, p99 < 5 ms
verifies                >= 20,000/s, p99 < 2 ms
end to end over SMPP    >= 10,000 delivered OTPs/s at window 100, <= 100 µs of otpd CPU each
SMPP link use           >= 95% of min(window / round trip, max_tps); never above max_tps
start to ready          < 200 ms
memory                  < 20 MB resident idle, < 64 MB under load
TARGETS
