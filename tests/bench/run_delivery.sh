#!/usr/bin/env bash
# The latency of 帮助 through the real server while a 100,000-message broadcast drains,
# against the same server idle (issue 4: p99 at most doubles). Also prints how fast the
# broadcast drained while it competed with the load.
#
# Usage: tests/bench/run_delivery.sh [--build-dir DIR] [--rows 100000] [--concurrency 32]
#          [--connections 16] [--duration 10] [--warmup 2] [--via broadcasts|announcements]
# --via announcements sends it as a notice (POST /api/v1/announcements/notices, the
# announcements plugin; issue 6) instead of a bare broadcast (POST /api/v1/broadcasts).
# DIR holds the bench build (cmake --preset bench; default build-release, relative to the
# current folder or to the repository) with villagebot, the generic webhook module,
# vb_loadgen and vb_delivery_bench. The mock gateway (vb_delivery_bench --gateway) is
# the broadcast's reply_url; server, gateway and load generator share the machine.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
readonly SCRIPT_DIR REPO_ROOT
readonly HOOK_PATH="/hooks/generic"
readonly BODY_TEMPLATE='{"message_id":"d-{n}","sender":"{sender}","text":"帮助"}'
readonly SENDER_RANGE="13900000000:13900000199"  # persons of vb_delivery_bench's register

BUILD_DIR="build-release"
ROWS=100000
CONCURRENCY=32
CONNECTIONS=16
DURATION=10
WARMUP=2
VIA="broadcasts"

WORK_DIR=""
GATEWAY_PID=""
VILLAGEBOT_PID=""

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "run_delivery.sh: $*" >&2
  exit 1
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      --build-dir) BUILD_DIR="${2:?--build-dir needs a folder}"; shift 2 ;;
      --rows) ROWS="${2:?--rows needs a number}"; shift 2 ;;
      --concurrency) CONCURRENCY="${2:?--concurrency needs a number}"; shift 2 ;;
      --connections) CONNECTIONS="${2:?--connections needs a number}"; shift 2 ;;
      --duration) DURATION="${2:?--duration needs seconds}"; shift 2 ;;
      --warmup) WARMUP="${2:?--warmup needs seconds}"; shift 2 ;;
      --via) VIA="${2:?--via needs broadcasts or announcements}"; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument $1" ;;
    esac
  done
}

resolve_build_dir() {
  if [[ -d "${BUILD_DIR}" ]]; then
    BUILD_DIR="$(cd "${BUILD_DIR}" && pwd)"
  elif [[ -d "${REPO_ROOT}/${BUILD_DIR}" ]]; then
    BUILD_DIR="${REPO_ROOT}/${BUILD_DIR}"
  else
    die "no build folder ${BUILD_DIR}; configure one with: cmake --preset bench"
  fi
  VB="${BUILD_DIR}/villagebot"
  LOADGEN="${BUILD_DIR}/tests/bench/vb_loadgen"
  DBENCH="${BUILD_DIR}/tests/bench/vb_delivery_bench"
  local p
  for p in "${VB}" "${LOADGEN}" "${DBENCH}"; do
    [[ -x "${p}" ]] || die "${p} is missing; build it: ninja -C ${BUILD_DIR} villagebot vb_loadgen vb_delivery_bench"
  done
  [[ -f "${BUILD_DIR}/plugins/villagebot_adapter_generic_webhook.so" ]] ||
    die "no generic webhook module in ${BUILD_DIR}/plugins; build villagebot_adapter_generic_webhook"
}

cleanup() {
  local pid
  for pid in "${VILLAGEBOT_PID}" "${GATEWAY_PID}"; do
    if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then
      kill -TERM "${pid}" 2>/dev/null || true
      wait "${pid}" 2>/dev/null || true
    fi
  done
  [[ -z "${WORK_DIR}" ]] || rm -rf "${WORK_DIR}"
}

# Waits until LOG has a line with "listening on URL"; prints URL.
wait_for_url() {
  local log="$1" pid="$2" name="$3" line
  for _ in $(seq 1 300); do
    line="$(grep -m1 -o 'listening on [^ ]*' "${log}" 2>/dev/null || true)"
    if [[ -n "${line}" ]]; then
      echo "${line#listening on }"
      return 0
    fi
    kill -0 "${pid}" 2>/dev/null || die "${name} exited before listening: $(cat "${log}")"
    sleep 0.1
  done
  die "${name} did not report 'listening on' within 30 s: $(cat "${log}")"
}

api() {
  local method="$1" path="$2"
  shift 2
  curl -sS --max-time 300 -X "${method}" -H "Authorization: Bearer ${TOKEN}" \
    -H 'Content-Type: application/json' "${BASE_URL}${path}" "$@"
}

measure() {
  local out="$1" n_start="$2"
  "${LOADGEN}" --url "${BASE_URL}${HOOK_PATH}" --connections "${CONNECTIONS}" --duration "${DURATION}" \
    --warmup "${WARMUP}" --body "${BODY_TEMPLATE}" --sender-range "${SENDER_RANGE}" \
    --n-start "${n_start}" >"${out}" || true
  grep -q '^requests=[1-9]' "${out}" || die "no request completed: $(tr '\n' ' ' <"${out}")"
}

# utime + stime of a process, in clock ticks.
process_cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# A field of /proc/PID/status in kB (VmRSS, VmHWM).
proc_status_kb() {
  awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"
}

figure() {
  sed -n "s/^$1=//p" "$2"
}

sent_count() {
  api GET "/api/v1/broadcasts/$1" | jq -r '.messages.sent // 0'
}

main() {
  parse_args "$@"
  resolve_build_dir
  WORK_DIR="$(mktemp -d)"
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  "${DBENCH}" --gateway >"${WORK_DIR}/gateway.log" 2>&1 &
  GATEWAY_PID=$!
  local reply_url
  reply_url="$(wait_for_url "${WORK_DIR}/gateway.log" "${GATEWAY_PID}" "the mock gateway")"

  local config="${WORK_DIR}/villagebot.toml" PLUGINS="" PLUGIN_TOML=""
  [[ "${VIA}" == broadcasts || "${VIA}" == announcements ]] || die "--via must be broadcasts or announcements"
  if [[ "${VIA}" == announcements ]]; then
    PLUGINS='"announcements"'
    PLUGIN_TOML=$'[plugins.announcements]\nreminder_after_hours = 0'
  fi
  cat >"${config}" <<TOML
[logging]
level = "warn"
[server]
listen = "127.0.0.1:0"
threads = 2
[storage]
path = "${WORK_DIR}/bench.db"
synchronous = "full"
[pipeline]
rate_limit_messages = 0
[plugins]
dir = "${BUILD_DIR}/plugins"
enabled = [${PLUGINS}]
${PLUGIN_TOML}
[[adapters]]
id = "generic"
type = "generic-webhook"
reply_url = "${reply_url}"
send_timeout_ms = 10000
rate_per_minute = 0
concurrency = ${CONCURRENCY}
TOML
  "${DBENCH}" --write-csv "${WORK_DIR}/people.csv" --rows "${ROWS}"
  echo "importing ${ROWS} persons" >&2
  "${VB}" import people "${WORK_DIR}/people.csv" --config "${config}" >/dev/null
  TOKEN="$("${VB}" token create --name bench --role admin --config "${config}" 2>/dev/null | head -n1)"

  "${VB}" serve --config "${config}" >"${WORK_DIR}/villagebot.out" 2>"${WORK_DIR}/villagebot.log" &
  VILLAGEBOT_PID=$!
  BASE_URL="$(wait_for_url "${WORK_DIR}/villagebot.out" "${VILLAGEBOT_PID}" villagebot)"

  local n_start=$(($(date +%s%N) / 1000))
  echo "measuring 帮助 idle (${CONNECTIONS} connections, ${DURATION} s)" >&2
  measure "${WORK_DIR}/idle.txt" "${n_start}"

  local body t0 t1 created id rss_idle rss_queued
  rss_idle="$(proc_status_kb "${VILLAGEBOT_PID}" VmRSS)"
  local path="/api/v1/broadcasts" plan=".plan" id_field=".id"
  body='{"text":"【通知】明天上午九点在村委会召开村民大会，请每户派一名代表参加。回复“收到”确认。","audience":{"everyone":true},"policy":"personal_all"}'
  if [[ "${VIA}" == announcements ]]; then
    path="/api/v1/announcements/notices" id_field=".notice.broadcast_id"
    body='{"title":"村民大会","body":"明天上午九点在村委会召开村民大会，请每户派一名代表参加。","audience":{"everyone":true},"policy":"personal_all"}'
  fi
  t0=$(date +%s%N)
  created="$(api POST "${path}" -d "${body}")"
  t1=$(date +%s%N)
  rss_queued="$(proc_status_kb "${VILLAGEBOT_PID}" VmRSS)"
  id="$(jq -r "${id_field}" <<<"${created}")"
  [[ "${id}" =~ ^[0-9]+$ ]] || die "the broadcast was not accepted: ${created}"
  echo "measuring 帮助 while broadcast ${id} drains" >&2
  measure "${WORK_DIR}/busy.txt" "$((n_start + 100000000))"
  local sent_after_load t2 ticks2
  sent_after_load="$(sent_count "${id}")"
  t2=$(date +%s%N)
  ticks2=$(process_cpu_ticks "${VILLAGEBOT_PID}")
  while [[ "$(sent_count "${id}")" != "${ROWS}" ]]; do
    kill -0 "${VILLAGEBOT_PID}" 2>/dev/null || die "villagebot exited: $(tail -n 20 "${WORK_DIR}/villagebot.log")"
    sleep 1  # each look is a GROUP BY over the broadcast's rows: not too often
  done
  local t3 ticks3
  t3=$(date +%s%N)
  ticks3=$(process_cpu_ticks "${VILLAGEBOT_PID}")

  printf '%-10s | %12s | %14s | %7s\n' figure idle "100k draining" ratio
  printf '%-10s-+-%12s-+-%14s-+-%7s\n' ---------- ------------ -------------- -------
  local name a b
  for name in rps p50_ms p99_ms max_ms requests non2xx errors; do
    a="$(figure "${name}" "${WORK_DIR}/idle.txt")"
    b="$(figure "${name}" "${WORK_DIR}/busy.txt")"
    printf '%-10s | %12s | %14s | %7s\n' "${name}" "${a}" "${b}" \
      "$(awk -v a="${a}" -v b="${b}" 'BEGIN { if (a + 0 == 0) print "-"; else printf "%.2f", b / a }')"
  done
  echo
  local p99_idle p99_busy
  p99_idle="$(figure p99_ms "${WORK_DIR}/idle.txt")"
  p99_busy="$(figure p99_ms "${WORK_DIR}/busy.txt")"
  awk -v a="${p99_idle}" -v b="${p99_busy}" 'BEGIN {
    printf "(d) p99 of 帮助: %.2f ms idle, %.2f ms while 100k drain: x%.2f   [target <= x2: %s]\n",
      a, b, b / a, (b <= 2 * a ? "met" : "MISSED") }'
  echo "    POST ${path} ($(jq -r "${plan}.personal_chats" <<<"${created}") recipients planned and durable): $(((t1 - t0) / 1000000)) ms"
  echo "    sent by the end of the loaded window: ${sent_after_load} of ${ROWS}" \
    "(the load ran $((DURATION + WARMUP)) s after the POST)"
  echo "    whole drain: $(((t3 - t1) / 1000000)) ms after the POST," \
    "$(awk -v n="${ROWS}" -v ns="$((t3 - t1))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }') messages/s" \
    "(the last $(((t3 - t2) / 1000000)) ms without the 帮助 load)"
  echo "    villagebot VmRSS: $((rss_idle / 1024)) MB before the broadcast, $((rss_queued / 1024)) MB when the POST" \
    "returned (100k queued, draining begins), peak VmHWM $(($(proc_status_kb "${VILLAGEBOT_PID}" VmHWM) / 1024)) MB"
  echo "    villagebot CPU per message while it drained alone: $(awk -v t="$((ticks3 - ticks2))" \
    -v hz="$(getconf CLK_TCK)" -v n="$((ROWS - sent_after_load))" \
    'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "?" }') µs (user + system, all threads)"
  kill -TERM "${GATEWAY_PID}"
  wait "${GATEWAY_PID}" || true
  GATEWAY_PID=""
  echo "    gateway: $(grep -E '^(accepted|recipients|first_to_last_per_s)=' "${WORK_DIR}/gateway.log" | tr '\n' ' ')"
  local non2xx errors
  non2xx="$(figure non2xx "${WORK_DIR}/busy.txt")"
  errors="$(figure errors "${WORK_DIR}/busy.txt")"
  if ((non2xx > 0 || errors > 0)); then
    echo "run_delivery.sh: ${non2xx} non-2xx answers and ${errors} failed requests under the drain" >&2
  fi
}

main "$@"
