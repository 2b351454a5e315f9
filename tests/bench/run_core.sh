#!/usr/bin/env bash
# Measures villagebot's generic webhook against the bare Beast ceiling in one run, with
# the same load generator, body, senders and connection count, and prints both side by
# side. The ratio shows what villagebot's own work costs on this machine.
#
# Usage: tests/bench/run_core.sh [--build-dir DIR] [--villagebot-url http://127.0.0.1:PORT]
#          [--connections 64] [--duration 10] [--warmup 2] [--loadgen-threads 1]
#          [--bare-threads 2] [--signature-secret SECRET]
#          [--text 帮助] [--village HOUSEHOLDS] [--plugins test_echo,points] [--poll] [--rounds N]
# --text: what every message says (积分 for the points plugin's figure); --village N: a
# generated register of N households of three (phones 13900000000 + i, the senders
# rotating over all of them) instead of the 200-person demo village. --poll (issue 8's
# votes figure): loads the opinions plugin, opens a poll for everyone (one vote per
# person) and sends "投票 P1 <n>" as the text; the votes counted are printed at the end.
# --rounds N: measure the ceiling and villagebot N times, alternating (the ceiling of a
# shared 2-core VM moves by a quarter between runs minutes apart); every round's figures
# are printed and the table is the round with the median ratio.
# DIR holds the Release build (default build-release, relative to the current folder
# or to the repository); vb_loadgen and vb_bare_server are looked up inside it.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
readonly SCRIPT_DIR REPO_ROOT
readonly HOOK_PATH="/hooks/generic"
TEXT="帮助"
VILLAGE=0
PLUGINS="test_echo"
POLL=0
ROUNDS=1
SENDER_RANGE="13800000001:13800000200"

BUILD_DIR="build-release"
VILLAGEBOT_URL=""
CONNECTIONS=64
DURATION=10
WARMUP=2
LOADGEN_THREADS=1
# One thread each for the bare server and for villagebot's network: on the 2-core machine
# that is the fastest for both (the bare server did 60,000-70,000/s with one thread and
# 46,000-55,000/s with two; villagebot 54 against 65 µs of CPU per request), as the load
# generator has the other core. BENCH_NET_THREADS and --bare-threads change them.
BARE_THREADS=1
SIGNATURE_SECRET=""

BARE_PID=""
VILLAGEBOT_PID=""  # set only when this script starts villagebot itself
START_MS=""
IDLE_RSS_KB=""
CPU_US_PER_REQUEST=""
WORK_DIR=""

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "run_core.sh: $*" >&2
  exit 1
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      --build-dir) BUILD_DIR="${2:?--build-dir needs a folder}"; shift 2 ;;
      --villagebot-url) VILLAGEBOT_URL="${2:?--villagebot-url needs a URL}"; shift 2 ;;
      --connections) CONNECTIONS="${2:?--connections needs a number}"; shift 2 ;;
      --duration) DURATION="${2:?--duration needs seconds}"; shift 2 ;;
      --warmup) WARMUP="${2:?--warmup needs seconds}"; shift 2 ;;
      --loadgen-threads) LOADGEN_THREADS="${2:?--loadgen-threads needs a number}"; shift 2 ;;
      --bare-threads) BARE_THREADS="${2:?--bare-threads needs a number}"; shift 2 ;;
      --signature-secret) SIGNATURE_SECRET="${2:?--signature-secret needs a value}"; shift 2 ;;
      --text) TEXT="${2:?--text needs the message text}"; shift 2 ;;
      --village) VILLAGE="${2:?--village needs a number of households}"; shift 2 ;;
      --plugins) PLUGINS="${2:?--plugins needs a comma-separated list}"; shift 2 ;;
      --poll) POLL=1; PLUGINS="opinions"; TEXT="投票 P1 2"; shift ;;
      --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
      -h | --help) usage; exit 0 ;;
      -*) usage >&2; die "unknown option $1" ;;
      *) BUILD_DIR="$1"; shift ;;
    esac
  done
}

# Prints the path of a built program, looking where CMake puts it first.
find_program_in_build() {
  local name="$1" dir="$2" candidate
  for candidate in "${dir}/tests/bench/${name}" "${dir}/bin/${name}" "${dir}/${name}"; do
    if [[ -x "${candidate}" ]]; then
      echo "${candidate}"
      return 0
    fi
  done
  candidate="$(find "${dir}" -type f -name "${name}" -perm -u+x -print -quit 2>/dev/null)"
  [[ -n "${candidate}" ]] || die "${name} is not in ${dir}; build it first: cmake --build ${dir} --target ${name}"
  echo "${candidate}"
}

resolve_build_dir() {
  if [[ -d "${BUILD_DIR}" ]]; then
    BUILD_DIR="$(cd "${BUILD_DIR}" && pwd)"
  elif [[ -d "${REPO_ROOT}/${BUILD_DIR}" ]]; then
    BUILD_DIR="${REPO_ROOT}/${BUILD_DIR}"
  else
    die "no build folder ${BUILD_DIR}; configure one with: cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release"
  fi
}

cleanup() {
  local pid
  for pid in "${BARE_PID}" "${VILLAGEBOT_PID}"; do
    if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then
      kill -TERM "${pid}" 2>/dev/null || true
      wait "${pid}" 2>/dev/null || true
    fi
  done
  if [[ -n "${WORK_DIR}" ]]; then
    rm -rf "${WORK_DIR}"
  fi
}

# Waits for a server started in the background to print "listening on HOST:PORT" to
# LOG, then prints HOST:PORT.
wait_for_listening() {
  local log="$1" pid="$2" name="$3" line
  for _ in $(seq 1 100); do
    line="$(grep -m1 -o 'listening on [^ ]*' "${log}" 2>/dev/null || true)"
    if [[ -n "${line}" ]]; then
      echo "${line#listening on }"
      return 0
    fi
    kill -0 "${pid}" 2>/dev/null || die "${name} exited before listening: $(cat "${log}")"
    sleep 0.1
  done
  die "${name} did not report 'listening on' within 10 s: $(cat "${log}")"
}

start_bare_server() {
  local program="$1" log="${WORK_DIR}/bare.log"
  "${program}" --port 0 --threads "${BARE_THREADS}" >"${log}" 2>&1 &
  BARE_PID=$!
  BARE_URL="http://$(wait_for_listening "${log}" "${BARE_PID}" vb_bare_server)${HOOK_PATH}"
}

stop_bare_server() {
  kill -TERM "${BARE_PID}" 2>/dev/null || true
  wait "${BARE_PID}" 2>/dev/null || true
  BARE_PID=""
}

# Makes VILLAGEBOT_URL point at villagebot's generic webhook. Without
# --villagebot-url it starts the build's villagebot itself: the demo village (or
# --village N), the --plugins loaded (test_echo by default), no rate limit,
# synchronous=FULL (the production default), and measures start-to-ready time
# and idle RSS on the way.
start_villagebot() {
  if [[ -n "${VILLAGEBOT_URL}" ]]; then
    VILLAGEBOT_URL="${VILLAGEBOT_URL%/}"
    [[ "${VILLAGEBOT_URL}" == *"${HOOK_PATH}" ]] || VILLAGEBOT_URL="${VILLAGEBOT_URL}${HOOK_PATH}"
    return
  fi
  local vb="${BUILD_DIR}/villagebot" config="${WORK_DIR}/villagebot.toml" line t0 t1
  [[ -x "${vb}" ]] || die "no villagebot in ${BUILD_DIR}; build the bench preset first"
  local plugin
  for plugin in ${PLUGINS//,/ }; do
    [[ -f "${BUILD_DIR}/plugins/villagebot_plugin_${plugin}.so" ]] ||
      die "no ${plugin} plugin in ${BUILD_DIR}/plugins; build with tests on (cmake --preset bench)"
  done
  cat >"${config}" <<TOML
[server]
listen = "127.0.0.1:0"
threads = ${BENCH_NET_THREADS:-1}
[storage]
path = "${WORK_DIR}/bench.db"
synchronous = "${BENCH_SYNC:-full}"
[pipeline]
rate_limit_messages = 0
workers = ${BENCH_WORKERS:-2}
[plugins]
dir = "${BUILD_DIR}/plugins"
enabled = [$(sed 's/[^,][^,]*/"&"/g; s/,/, /g' <<<"${PLUGINS}")]
[[adapters]]
id = "generic"
type = "generic-webhook"
TOML
  local people="${REPO_ROOT}/config/demo/people.csv"
  if ((VILLAGE > 0)); then
    people="${WORK_DIR}/village.csv"
    "$(find_program_in_build vb_delivery_bench "${BUILD_DIR}")" --write-csv "${people}" --rows "$((VILLAGE * 3))"
    SENDER_RANGE="13900000000:$((13900000000 + VILLAGE * 3 - 1))"
  fi
  "${vb}" import people "${people}" --config "${config}" >/dev/null
  if ((POLL)); then
    POLL_TOKEN="$("${vb}" token create --name bench --role admin --config "${config}" 2>/dev/null | head -n1)"
  fi
  mkfifo "${WORK_DIR}/vb.out"
  t0=$(date +%s%N)
  "${vb}" serve --config "${config}" >"${WORK_DIR}/vb.out" 2>"${WORK_DIR}/villagebot.log" &
  VILLAGEBOT_PID=$!
  exec 3<"${WORK_DIR}/vb.out"
  read -r -t 10 line <&3 || die "villagebot did not start: $(cat "${WORK_DIR}/villagebot.log")"
  t1=$(date +%s%N)
  START_MS=$(((t1 - t0) / 1000000))
  sleep 1
  IDLE_RSS_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/${VILLAGEBOT_PID}/status")
  VILLAGEBOT_URL="${line#*listening on }${HOOK_PATH}"
  BASE_URL="${line#*listening on }"
  if ((POLL)); then
    local deadline=$((($(date +%s) + 86400) * 1000)) created
    created="$(curl -sS -X POST -H "Authorization: Bearer ${POLL_TOKEN}" -H 'Content-Type: application/json' \
      -d "{\"question\":\"村道硬化方案\",\"options\":[\"水泥路\",\"柏油路\"],\"audience\":{\"everyone\":true},\"per_household\":false,\"deadline\":${deadline}}" \
      "${BASE_URL}/api/v1/opinions/polls")"
    [[ "${created}" == *'"code":"P1"'* ]] || die "the poll was not created: ${created}"
  fi
}

# utime + stime of a process, in clock ticks.
process_cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Runs the load generator against URL and writes its key=value figures to OUT.
measure() {
  local url="$1" out="$2" n_start="$3"
  local -a args=(
    --url "${url}" --connections "${CONNECTIONS}" --duration "${DURATION}"
    --warmup "${WARMUP}" --threads "${LOADGEN_THREADS}" --body "{\"message_id\":\"b-{n}\",\"sender\":\"{sender}\",\"text\":\"${TEXT}\"}"
    --sender-range "${SENDER_RANGE}" --n-start "${n_start}")
  if [[ -n "${SIGNATURE_SECRET}" ]]; then
    args+=(--signature-secret "${SIGNATURE_SECRET}")
  fi
  # The load generator's own CPU (bash's time: user and system seconds, the last line).
  local TIMEFORMAT='%U %S'
  { time "${LOADGEN}" "${args[@]}" >"${out}"; } 2>"${out}.cpu" || true
  grep -q '^requests=[1-9]' "${out}" ||
    die "no request to ${url} completed: $(tr '\n' ' ' <"${out}")"
}

figure() {
  sed -n "s/^$1=//p" "$2"
}

print_table() {
  local villagebot="$1" bare="$2" name v b
  printf '%-12s | %12s | %12s | %7s\n' figure villagebot "bare ceiling" ratio
  printf '%-12s-+-%12s-+-%12s-+-%7s\n' ------------ ------------ ------------ -------
  for name in rps p50_ms p99_ms max_ms requests non2xx errors; do
    v="$(figure "${name}" "${villagebot}")"
    b="$(figure "${name}" "${bare}")"
    printf '%-12s | %12s | %12s | %7s\n' "${name}" "${v}" "${b}" \
      "$(awk -v v="${v}" -v b="${b}" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", v / b }')"
  done
}

main() {
  parse_args "$@"
  resolve_build_dir
  LOADGEN="$(find_program_in_build vb_loadgen "${BUILD_DIR}")"
  local bare_program
  bare_program="$(find_program_in_build vb_bare_server "${BUILD_DIR}")"

  WORK_DIR="$(mktemp -d)"
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  start_villagebot

  # Message ids must not repeat across runs: villagebot remembers the ones it has seen.
  local n_start=$(($(date +%s%N) / 1000))

  [[ "${ROUNDS}" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number"
  local round cpu_ticks=0 vb_requests=0 cpu_before="" ratios="" loadgen_cpu_s=0
  for ((round = 1; round <= ROUNDS; round++)); do
    start_bare_server "${bare_program}"
    echo "measuring the bare ceiling at ${BARE_URL} (${CONNECTIONS} connections, ${DURATION} s)" >&2
    measure "${BARE_URL}" "${WORK_DIR}/bare-${round}.txt" "$((n_start + round * 1000000000))"
    stop_bare_server

    echo "measuring villagebot at ${VILLAGEBOT_URL} (${CONNECTIONS} connections, ${DURATION} s)" >&2
    [[ -n "${VILLAGEBOT_PID}" ]] && cpu_before=$(process_cpu_ticks "${VILLAGEBOT_PID}")
    measure "${VILLAGEBOT_URL}" "${WORK_DIR}/villagebot-${round}.txt" "$((n_start + round * 1000000000 + 100000000))"
    if [[ -n "${cpu_before}" ]]; then
      cpu_ticks=$((cpu_ticks + $(process_cpu_ticks "${VILLAGEBOT_PID}") - cpu_before))
      vb_requests=$((vb_requests + $(figure requests "${WORK_DIR}/villagebot-${round}.txt")))
      loadgen_cpu_s=$(tail -n1 "${WORK_DIR}/villagebot-${round}.txt.cpu" |
        awk -v sum="${loadgen_cpu_s}" '{ printf "%.3f", sum + $1 + $2 }')
    fi
    local v b r
    v="$(figure rps "${WORK_DIR}/villagebot-${round}.txt")"
    b="$(figure rps "${WORK_DIR}/bare-${round}.txt")"
    r="$(awk -v v="${v}" -v b="${b}" 'BEGIN { printf "%.3f", (b > 0 ? v / b : 0) }')"
    ratios+="${r} ${round}"$'\n'
    ((ROUNDS > 1)) && echo "round ${round}: villagebot ${v}/s, bare ceiling ${b}/s, ratio ${r}"
  done
  # The round with the median ratio (the lower middle one of an even count).
  local median
  median="$(sort -n <<<"${ratios%$'\n'}" | awk -v n="${ROUNDS}" 'NR == int((n + 1) / 2) { print $2 }')"
  cp "${WORK_DIR}/villagebot-${median}.txt" "${WORK_DIR}/villagebot.txt"
  cp "${WORK_DIR}/bare-${median}.txt" "${WORK_DIR}/bare.txt"
  ((ROUNDS > 1)) && echo "median round: ${median}" && echo
  if [[ -n "${cpu_before}" ]]; then
    local hz
    hz=$(getconf CLK_TCK)
    # Includes the warm-up requests, which the load generator does not count.
    CPU_US_PER_REQUEST=$(awk -v t="${cpu_ticks}" -v hz="${hz}" -v n="${vb_requests}" \
      -v d="${DURATION}" -v w="${WARMUP}" 'BEGIN { if (n > 0) printf "%.0f", t / hz * 1e6 / (n * (d + w) / d) }')
    # villagebot's CPU over the load generator's in the same seconds: the load generator does
    # the same work per request whatever the server, so this ratio cancels the machine's own
    # drift (which moves requests/s by a tenth between runs minutes apart). For A/B of builds.
    CPU_RELATIVE=$(awk -v t="${cpu_ticks}" -v hz="${hz}" -v l="${loadgen_cpu_s}" \
      'BEGIN { if (l > 0) printf "%.2f", t / hz / l }')
  fi

  print_table "${WORK_DIR}/villagebot.txt" "${WORK_DIR}/bare.txt"
  if [[ -n "${START_MS:-}" ]]; then
    echo
    echo "start to ready (process start to listening, plugins ${PLUGINS}): ${START_MS} ms"
    echo "idle RSS after start: $((IDLE_RSS_KB / 1024)) MB (${IDLE_RSS_KB} kB)"
    echo "villagebot CPU per request (user + system, all threads): ${CPU_US_PER_REQUEST:-?} µs"
    echo "villagebot CPU relative to the load generator's, same seconds (steadier for A/B): ${CPU_RELATIVE:-?}"
  fi

  if ((POLL)); then
    echo "votes: $(figure requests "${WORK_DIR}/villagebot.txt") counted by the load generator in ${DURATION} s;" \
      "the poll's results: $(curl -sS -H "Authorization: Bearer ${POLL_TOKEN}" \
        "${BASE_URL}/api/v1/opinions/polls/P1/results" | jq -c '{voters, eligible, options: [.options[] | .votes]}')"
  fi
  local non2xx errors
  non2xx="$(figure non2xx "${WORK_DIR}/villagebot.txt")"
  errors="$(figure errors "${WORK_DIR}/villagebot.txt")"
  if ((non2xx > 0 || errors > 0)); then
    echo "run_core.sh: villagebot answered ${non2xx} requests with a non-2xx status and" \
      "${errors} failed; its figures do not measure the reply path (check its log)" >&2
    exit 1
  fi
}

main "$@"
