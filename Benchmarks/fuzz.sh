#!/usr/bin/env bash
# Fuzzes what clients and operators feed Cutover, with libFuzzer and AddressSanitizer: the configuration loader,
# the JSON diff and normaliser, ID extraction, the list cursor, path templates and the admin API's request decoding
# (Benchmarks/Fuzz/Sources/Harnesses.swift says what each checks beyond "never traps"), and the request parser
# against NIOHTTP1's llhttp decoder (request-diff, response-diff: framing must agree outside the intended differences
# written in Benchmarks/Fuzz/Sources/RequestDifferential.swift and ResponseDifferential.swift).
#
#   Benchmarks/fuzz.sh [--seconds N] [--runs N] [--harness NAME]... [--corpus DIR] [--seed N]
#
# Each harness runs for N seconds or N inputs, whichever ends first (defaults: 60 s, no input bound), from the
# committed seed corpus in Benchmarks/Fuzz/corpus/HARNESS (copied: the run's own corpus grows in a work folder and
# the seeds stay as committed), with a fixed seed (--seed: another one, for a second worker on the same --corpus,
# whose inputs add to the first's). With --corpus, the run's corpora are DIR/HARNESS and are kept, so a
# long run can be stopped (for a benchmark) and resumed where it was; never SIGSTOP a fuzzer instead, its per-input
# timeout is wall-clock and reports a false timeout on resume. A finding (a crash, a failed precondition, a leak, an
# AddressSanitizer report) stops that harness, keeps the input as Benchmarks/Fuzz/findings/HARNESS-*, and makes the
# script exit 1. Prints per harness the inputs run, the time, inputs per second and the corpus grown.
# The build goes to .build-fuzz (kept out of git); the harnesses run a copy of the binary, so the next build can link
# while a run goes on.
set -euo pipefail

SECONDS_PER=60
RUNS=-1
HARNESSES=()
CORPORA=""
SEED=20261201
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --harness) HARNESSES+=("$2"); shift 2 ;;
    --corpus) CORPORA="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(config json id cursor path admin request-diff response-diff)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH="$ROOT/.build-fuzz"
# Coverage instrumentation and AddressSanitizer everywhere; libFuzzer's driver comes from the toolchain's no-main
# archive (SwiftPM gives every executable its own entry point, which hands over to LLVMFuzzerRunDriver).
RUNTIME=$(dirname "$(command -v swiftc)")/../lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-$(uname -m).a
mkdir -p "$SCRATCH"
BUILD_LOG="$SCRATCH/fuzz-build.log"
# A failed build stops the run: an older binary left in the scratch folder must never be fuzzed in its place.
if ! (cd "$ROOT" && swift build -c release --product cutover-fuzz --scratch-path "$SCRATCH" \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
  -Xswiftc -DCUTOVER_FUZZING -Xswiftc -enable-experimental-feature -Xswiftc Extern -Xswiftc -enable-testing \
  -Xlinker "$RUNTIME" -Xlinker -lstdc++ > "$BUILD_LOG" 2>&1); then
  grep -E "error" "$BUILD_LOG" >&2 || tail -20 "$BUILD_LOG" >&2
  echo "the fuzz build failed (the whole log: $BUILD_LOG)" >&2
  exit 1
fi
grep -E "Build complete" "$BUILD_LOG" || true
BIN="$SCRATCH/release/cutover-fuzz"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$BIN" "$WORK/cutover-fuzz"
BIN="$WORK/cutover-fuzz"
[ -z "$CORPORA" ] || mkdir -p "$CORPORA"
mkdir -p "$ROOT/Benchmarks/Fuzz/findings"
FAILED=0
SUMMARY=()
for harness in "${HARNESSES[@]}"; do
  seeds="$ROOT/Benchmarks/Fuzz/corpus/$harness"
  [ -d "$seeds" ] || { echo "no seed corpus for $harness at $seeds" >&2; exit 2; }
  corpus="${CORPORA:-$WORK}/$harness"
  mkdir -p "$corpus"
  cp -n "$seeds"/* "$corpus"/
  start=$(date +%s.%N)
  set +e
  # Swift's own backtracer is off: libFuzzer and AddressSanitizer report a finding themselves. AddressSanitizer keeps
  # no allocation stacks (a sixth of the time on the configuration loader); a finding's input is kept, and running
  # the binary on it alone with ASAN_OPTIONS=malloc_context_size=30 gives them.
  CUTOVER_FUZZ_TARGET=$harness SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:malloc_context_size=0 \
    "$BIN" "$corpus" \
    -max_total_time="$SECONDS_PER" -runs="$RUNS" -seed="$SEED" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$ROOT/Benchmarks/Fuzz/findings/$harness-" > "$WORK/$harness.log" 2>&1
  status=$?
  set -e
  elapsed=$(python3 -c "import time; print(f'{time.time() - $start:.0f}')")
  inputs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$WORK/$harness.log" | tail -1)
  speed=$(awk '/stat::average_exec_per_sec/ { print $NF }' "$WORK/$harness.log" | tail -1)
  grown=$(ls "$corpus" | wc -l)
  if [ $status -eq 72 ] && grep -q 'run interrupted' "$WORK/$harness.log"; then
    # Stopped with SIGINT (libFuzzer's interrupted exit code): what ran so far is a count, not a finding.
    FAILED=1
    verdict="interrupted, no finding"
  elif [ $status -ne 0 ]; then
    FAILED=1
    verdict="FINDING (exit $status): $(grep -m1 -E 'ERROR|Fatal error|Precondition failed|SUMMARY' "$WORK/$harness.log" || echo see log)"
    cp "$WORK/$harness.log" "$ROOT/Benchmarks/Fuzz/findings/$harness.log"
  else
    verdict="no finding"
  fi
  line=$(printf '%-8s %12s inputs in %5ss (%s/s), corpus %d files: %s' "$harness" "${inputs:-?}" "$elapsed" "${speed:-?}" "$grown" "$verdict")
  echo "$line"
  SUMMARY+=("$line")
done
echo
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
