#!/usr/bin/env bash
# Installs the Debian package on a clean Debian 12 system and checks it (issue 13): a minimal
# bookworm made by debootstrap in build-package/clean-root/, `apt-get install ./villagebot_*.deb`
# there (its dependencies come from the Debian mirror, as on a real machine), then, inside it:
# the service user and folders exist, the packaged config passes `villagebot config check`, the
# server starts as the villagebot user and answers /healthz, `villagebot backup` of the live
# database then `restore` into a new file gives an identical database (sqlite3 .dump), and purge
# removes the package but keeps the data. systemd cannot run as PID 1 in a chroot: the unit is
# checked by `systemd-analyze verify` in integration_process_test instead.
#
#   scripts/package.sh && scripts/verify-package.sh      (as root; needs the Debian mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "verify-package.sh: run as root (debootstrap and chroot)" >&2
  exit 1
fi
villagebot_install_packages debootstrap
deb=$(ls -t build-package/villagebot_*_amd64.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  echo "verify-package.sh: no package in build-package/; run scripts/package.sh first" >&2
  exit 1
fi
root="$(pwd)/build-package/clean-root"
mirror="${VILLAGEBOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

cleanup() {
  for m in proc dev/pts dev sys; do umount -l "$root/$m" 2>/dev/null || true; done
}
trap cleanup EXIT

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "==> debootstrap bookworm (minbase) into $root"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log"
    exit 1
  }
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t sysfs sys "$root/sys"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp "$deb" "$root/tmp/villagebot.deb"

echo "==> inside the clean system: apt-get install ./villagebot.deb"
chroot "$root" /bin/bash -euo pipefail -c '
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
apt-get update -qq
apt-get install -y -qq --no-install-recommends /tmp/villagebot.deb curl sqlite3 >/tmp/install.log 2>&1 || {
  tail -30 /tmp/install.log; exit 1; }
echo "installed: $(dpkg-query -W -f="\${Package} \${Version}" villagebot)"
villagebot --version
id villagebot
ls -ld /var/lib/villagebot /etc/villagebot
test -f /lib/systemd/system/villagebot.service || test -f /usr/lib/systemd/system/villagebot.service
set -a; . /etc/villagebot/villagebot.env; set +a
villagebot config check /etc/villagebot/villagebot.toml
port=18099
sed "s/^listen = .*/listen = \"127.0.0.1:${port}\"/" /etc/villagebot/villagebot.toml >/tmp/vb.toml
chown villagebot /tmp/vb.toml
runuser -u villagebot -- env $(cat /etc/villagebot/villagebot.env | xargs) villagebot serve --config /tmp/vb.toml \
  >/tmp/serve.log 2>&1 &
pid=$!
for i in $(seq 1 50); do
  curl -fs "http://127.0.0.1:${port}/healthz" >/tmp/health.json 2>/dev/null && break
  sleep 0.2
done
echo "healthz: $(cat /tmp/health.json | head -c 200)"
grep -q "\"status\":\"ok\"\|\"status\":\"degraded\"" /tmp/health.json
runuser -u villagebot -- env $(cat /etc/villagebot/villagebot.env | xargs) villagebot backup /var/lib/villagebot/backup.db \
  --config /tmp/vb.toml
kill -TERM $pid; wait $pid || true
db=$(sed -n "s/^path = \"\(.*\)\"/\1/p" /tmp/vb.toml | head -1)
cp /var/lib/villagebot/backup.db /tmp/keep.db
sqlite3 /tmp/keep.db .dump >/tmp/live.sql
runuser -u villagebot -- env $(cat /etc/villagebot/villagebot.env | xargs) villagebot restore /tmp/keep.db \
  --config /tmp/vb.toml
sqlite3 "$db" .dump >/tmp/restored.sql
cmp /tmp/live.sql /tmp/restored.sql
echo "backup then restore: identical database ($(wc -l </tmp/live.sql) lines of dump)"
apt-get purge -y -qq villagebot >/tmp/purge.log 2>&1
! dpkg-query -W villagebot >/dev/null 2>&1 || [ "$(dpkg-query -W -f="\${Status}" villagebot)" != "install ok installed" ]
test -f "$db" && echo "purged: the package is gone, the database stays ($db)"
'
echo "==> verify-package.sh: the package installs, serves, backs up and restores on a clean Debian 12"
