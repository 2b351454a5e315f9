#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, AddressSanitizer
# and UndefinedBehaviorSanitizer, checks formatting, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
villagebot_install_packages "${VILLAGEBOT_BUILD_PACKAGES[@]}" "${VILLAGEBOT_TEST_PACKAGES[@]}"

echo "==> format check (.clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find core plugins adapters tests -name '*.[ch]pp')
clang-format --dry-run --Werror "${sources[@]}"

echo "==> configure and build (Debug, ASan+UBSan, -Werror)"
cmake --preset test
cmake --build --preset test

echo "==> tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
ctest --preset test
echo "==> screenshots of the web console tests: $(pwd)/build-test/test-artifacts/console/"
