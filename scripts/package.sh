#!/usr/bin/env bash
# Builds the Debian package: an optimised build installed under /usr, packed by CPack.
#   scripts/package.sh          → build-package/villagebot_<version>_amd64.deb
#   apt install ./build-package/villagebot_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
villagebot_install_packages "${VILLAGEBOT_BUILD_PACKAGES[@]}" dpkg-dev
cmake -S . -B build-package -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DVILLAGEBOT_BUILD_TESTS=OFF -DVILLAGEBOT_BUILD_BENCH=OFF >/dev/null
cmake --build build-package
(cd build-package && cpack -G DEB)
ls -l build-package/*.deb
