#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for a while and prints how many inputs each ran.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 seconds, every target
#
# Stable toolchain: `-s none` builds without a sanitizer, which needs no -Z flag, so no
# nightly (and no RUSTC_BOOTSTRAP) is involved; Rust's own checks (bounds, overflow: cargo
# fuzz turns on debug assertions) still turn a bug into a panic, which libFuzzer reports as
# a crash. libfuzzer-sys builds libFuzzer itself, which needs a C++ compiler (g++).
#
# New inputs go to fuzz/target/corpus/<target> (ignored by git); the committed seeds in
# fuzz/corpus/<target> are only read. A crash is saved under fuzz/artifacts/<target>/ and
# this script stops with a non-zero status; reproduce it with
#   cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# One build of every target first (cargo fuzz run would otherwise build inside the timing).
cargo fuzz build -s none
summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/target/corpus/$t"
    log="fuzz/target/fuzz-$t.log"
    echo "== $t: ${seconds}s"
    if ! cargo fuzz run -s none "$t" "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "$t: CRASH (input saved under fuzz/artifacts/$t/; log: $log)"
        exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    line="$t: ${execs:-?} executions in ${seconds}s (${rate:-?}/s), $cov, no crash"
    echo "$line"
    summary+=("$line")
done
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
printf '%s\n' "${summary[@]}"
