#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, AddressSanitizer
# and UndefinedBehaviorSanitizer, checks formatting, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
villagebot_install_packages "${VILLAGEBOT_BUILD_PACKAGES[@]}" "${VILLAGEBOT_TEST_PACKAGES[@]}" \
  "${VILLAGEBOT_FUZZ_PACKAGES[@]}"

echo "==> format check (.clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find core plugins adapters tests -name '*.[ch]pp')
clang-format --dry-run --Werror "${sources[@]}"

echo "==> configure and build (Debug, ASan+UBSan, -Werror)"
cmake --preset test
cmake --build --preset test

# Every libFuzzer target briefly (clang, build-fuzz/), at a lower priority beside the tests: many
# tests wait on timers and leave a core idle. VILLAGEBOT_FUZZ_SECONDS=0 skips it; scripts/fuzz.sh
# runs the targets for as long as asked. The test build replays their corpora and regressions
# (ctest -L fuzz) either way.
fuzz_seconds="${VILLAGEBOT_FUZZ_SECONDS:-5}"
fuzz_pid=""
if [ "$fuzz_seconds" != 0 ]; then
  echo "==> fuzz targets, ${fuzz_seconds} s each, in the background (build-test/fuzz-brief.log)"
  nice -n 10 scripts/fuzz.sh --seconds "$fuzz_seconds" >build-test/fuzz-brief.log 2>&1 &
  fuzz_pid=$!
fi

echo "==> tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
tests_rc=0
ctest --preset test || tests_rc=$?

fuzz_rc=0
if [ -n "$fuzz_pid" ]; then
  echo "==> fuzz targets (scripts/fuzz.sh --seconds ${fuzz_seconds})"
  wait "$fuzz_pid" || fuzz_rc=$?
  sed -n '/^==> fuzzing/,$p' build-test/fuzz-brief.log
  if [ "$fuzz_rc" -ne 0 ]; then
    tail -n 60 build-test/fuzz-brief.log
  fi
fi
echo "==> screenshots of the web console tests: $(pwd)/build-test/test-artifacts/console/"
if [ "$tests_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ]; then
  echo "test.sh: tests exit ${tests_rc}, fuzz targets exit ${fuzz_rc}" >&2
  exit 1
fi
