# Sourced by demo.sh and test.sh: installs the Debian packages villagebot
# needs when they are missing (as root), or says exactly what to run.
VILLAGEBOT_BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libboost1.81-dev libboost-url1.81-dev libssl-dev libsqlite3-dev sqlite3
  nlohmann-json3-dev libspdlog-dev libtomlplusplus-dev libcli11-dev
)
# python3-icalendar: a standard iCalendar parser reads the volunteers' .ics feeds back in a test.
# chromium and a CJK font: the web console is tested end to end in headless Chromium (issue 12);
# systemd: systemd-analyze verifies the service unit (issue 13).
# clang and its sanitizer and libFuzzer runtimes: the fuzz targets (scripts/fuzz.sh, issue 13).
# lld, with the fuzz packages (test.sh installs those too): the test and fuzz builds link with it,
# 2.5 times faster than GNU ld on the sanitized binaries.
VILLAGEBOT_FUZZ_PACKAGES=(clang libclang-rt-14-dev lld)
VILLAGEBOT_TEST_PACKAGES=(libgtest-dev libgmock-dev clang-format curl python3-icalendar chromium fonts-wqy-microhei systemd)

villagebot_missing_packages() {
  local p missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  echo "${missing[*]:-}"
}

villagebot_install_packages() {
  local missing
  missing=$(villagebot_missing_packages "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      echo "==> installing: $missing (sudo)"
      # shellcheck disable=SC2086
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
      return
    fi
    echo "villagebot needs these Debian packages: $missing" >&2
    echo "run as root: apt-get update && apt-get install -y $missing" >&2
    exit 1
  fi
  echo "==> installing: $missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}
