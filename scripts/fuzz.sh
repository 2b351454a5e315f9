#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (issue 13) for as long as asked, and prints one line per
# target: seconds, executions, executions per second, corpus size, and the result.
#
#   scripts/fuzz.sh                      every target, 60 s each
#   scripts/fuzz.sh --seconds 600        every target, 10 minutes each
#   scripts/fuzz.sh --seconds 30 smpp_pdu people_csv
#   scripts/fuzz.sh --parallel 2         two targets at a time (one core each)
#
# Builds with clang (the fuzz preset: build-fuzz/, ASan + UBSan + libFuzzer), installing clang and
# its runtime when missing (as root). Each target grows a working corpus in build-fuzz/corpus/<name>,
# seeded from tests/fuzz/corpus/<name>. A crash leaves its input in build-fuzz/crashes/<name>/ and
# makes the script exit 1: copy the input to tests/fuzz/regressions/<name>/, fix the parser, and the
# test build replays it from then on (ctest -R fuzz_).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh

seconds=60
parallel=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --parallel) parallel="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
mapfile -t all < <(sed -n "s/^villagebot_fuzz_target(\([a-z0-9_]*\).*/\1/p" tests/fuzz/targets*.cmake)
if [ ${#targets[@]} -eq 0 ]; then
  targets=("${all[@]}")
fi
for t in "${targets[@]}"; do
  if ! printf '%s\n' "${all[@]}" | grep -qx "$t"; then
    echo "fuzz.sh: no target named $t; the targets are: ${all[*]}" >&2
    exit 2
  fi
done

villagebot_install_packages "${VILLAGEBOT_BUILD_PACKAGES[@]}" "${VILLAGEBOT_FUZZ_PACKAGES[@]}"

echo "==> build the fuzz targets (clang, libFuzzer, ASan+UBSan)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

out=build-fuzz/runs
rm -rf "$out"
mkdir -p "$out"

# fuzz_one NAME: runs one target for $seconds; its log goes to build-fuzz/runs/NAME.log.
fuzz_one() {
  local name="$1"
  local corpus="build-fuzz/corpus/$name" crashes="build-fuzz/crashes/$name"
  mkdir -p "$corpus" "$crashes"
  cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  local args=("$corpus" "-max_total_time=$seconds" "-print_final_stats=1" "-timeout=10" "-rss_limit_mb=2048"
    "-artifact_prefix=$crashes/" "-close_fd_mask=1")
  if [ -f "tests/fuzz/dict/$name.dict" ]; then
    args+=("-dict=tests/fuzz/dict/$name.dict")
  fi
  if [ -d "tests/fuzz/regressions/$name" ]; then
    args+=("tests/fuzz/regressions/$name")
  fi
  local rc=0
  ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "build-fuzz/tests/fuzz/fuzz_$name" "${args[@]}" >"$out/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$out/$name.rc"
}

echo "==> fuzzing ${#targets[@]} targets, ${seconds} s each, ${parallel} at a time"
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
printf '%-16s %8s %14s %10s %8s  %s\n' target seconds executions exec/s corpus result
for t in "${targets[@]}"; do
  log="$out/$t.log"
  rc=$(cat "$out/$t.rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  size=$(find "build-fuzz/corpus/$t" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    result="ok"
  else
    result="FAILED (exit $rc): $(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" || echo 'see log')"
    failed=1
  fi
  printf '%-16s %8s %14s %10s %8s  %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$size" "$result"
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: a target failed. Logs: $out/<target>.log; the inputs: build-fuzz/crashes/<target>/." >&2
  echo "Copy each input to tests/fuzz/regressions/<target>/ and fix the parser (ctest -R fuzz_ replays them)." >&2
  exit 1
fi
