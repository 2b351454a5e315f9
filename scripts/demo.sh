#!/usr/bin/env bash
# Installs what is missing, builds villagebot, seeds the demo village into an
# embedded SQLite database and starts the server. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/deps.sh
source scripts/lib/deps.sh
villagebot_install_packages "${VILLAGEBOT_BUILD_PACKAGES[@]}" curl

echo "==> build (Release)"
cmake --preset release >/dev/null
cmake --build --preset release

config=config/demo/villagebot.toml
mkdir -p data
echo "==> seeding the demo village (config/demo/people.csv)"
./build/villagebot import people config/demo/people.csv --config "$config"

# An admin token for the API (a new one each run; `villagebot token list` shows them all).
token=$(./build/villagebot token create --name "demo-admin-$(date +%Y%m%d-%H%M%S)" --role admin --config "$config" 2>/dev/null)

port=${VILLAGEBOT_DEMO_PORT:-8080}
cat <<TEXT

villagebot demo — 演示村 (200 villagers in 60 households; who is who: config/demo/README.md)

  Talk to it over HTTP, as villager 13800000001:
    curl -s -XPOST localhost:${port}/hooks/generic \\
      -d '{"message_id":"demo-1","sender":"13800000001","text":"帮助"}'
  (each message needs a new message_id; a repeated one is answered once)
  Also try "积分", "积分明细" and "红榜"; check the points ledger's hash chain with
    ./build/villagebot points verify --config ${config}
  Notices: as the cadre for 一组 (13800000010) send "通知 明晚7点开院坝会", then "确认";
  villagers see it with "最新通知" and answer "收到"; the central household head
  13800000030 sends "未读" to see which of his households have not answered.
  Emergency: the commander 13800000158 sends "应急 演练 河水上涨 集合点 村委会"; team members
  (e.g. 13800000009) answer "1" or "2"; the commander sends "点名", then "解除".
  Opinions: a villager sends "意见 村口路灯坏了"; the cadre 13800000064 sends
  "发起投票 村道用什么材料？ | 水泥路 | 柏油路" and villagers answer with the number.
  Volunteers: 13800000009 sends "班次", then "报名 1", "我的班次"; "换班 1" offers the place
  and another volunteer (13800000014) takes it with "接班 1". Rota and fairness:
    curl -s -H 'Authorization: Bearer ${token}' localhost:${port}/api/v1/volunteers/shifts

  Or chat in a terminal, as anyone in the village:
    ./build/villagebot chat --as 13800000001 --config ${config}

  The officials' web console (通知, 应急, 意见与投票, 积分, 志愿, 人员): open
    http://localhost:${port}/   and log in with this run's admin token:
    ${token}

  The admin API (docs/API.md), with the same token:
    curl -s -H 'Authorization: Bearer ${token}' 'localhost:${port}/api/v1/persons?q=王'
    curl -s -H 'Authorization: Bearer ${token}' localhost:${port}/api/v1/export/people > people.csv
    curl -s -H 'Authorization: Bearer ${token}' localhost:${port}/api/v1/announcements/notices
  Everything it offers: curl -s localhost:${port}/api/v1/openapi.json

  Health and metrics:  curl -s localhost:${port}/healthz   curl -s localhost:${port}/metrics

Starting the server (Ctrl-C to stop) ...
TEXT
exec ./build/villagebot serve --config "$config"
