#include "alerts.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

namespace villagebot::emergency {

const std::vector<Migration>& emergency_migrations();  // generated from schema/emergency_NNN.sql

namespace {

using nlohmann::json;

constexpr std::size_t kMaxText = 1000;  // bytes
constexpr std::int64_t kLateAnswerWindowMs = 12LL * 3600 * 1000;

constexpr const char* kColumns =
    "id, kind, text, meeting_point, team, responses_needed, drill, status, COALESCE(broadcast_id, 0), next_cycle, "
    "next_step, COALESCE(next_job_id, 0), COALESCE(commander_person_id, 0), created_by, "
    "COALESCE(idempotency_key, ''), created_at_ms, COALESCE(sent_at_ms, 0), COALESCE(enough_at_ms, 0), "
    "COALESCE(stood_down_at_ms, 0), COALESCE(stood_down_by, ''), COALESCE(stand_down_broadcast_id, 0)";

Alert from_row(const Row& r) {
  Alert a;
  a.id = r.integer(0);
  a.kind = r.text(1);
  a.text = r.text(2);
  a.meeting_point = r.text(3);
  a.team = r.text(4);
  a.responses_needed = r.integer(5);
  a.drill = r.integer(6) != 0;
  a.status = r.text(7);
  a.broadcast_id = r.integer(8);
  a.next_cycle = static_cast<int>(r.integer(9));
  a.next_step = static_cast<int>(r.integer(10));
  a.next_job_id = r.integer(11);
  a.commander_person_id = r.integer(12);
  a.created_by = r.text(13);
  a.idempotency_key = r.text(14);
  a.created_at_ms = r.integer(15);
  a.sent_at_ms = r.integer(16);
  a.enough_at_ms = r.integer(17);
  a.stood_down_at_ms = r.integer(18);
  a.stood_down_by = r.text(19);
  a.stand_down_broadcast_id = r.integer(20);
  return a;
}

Scheduler::Clock::time_point at(std::int64_t ms) {
  return Scheduler::Clock::time_point(std::chrono::milliseconds(ms));
}

std::string key_of(const Alert& a, const std::string& what) {
  return "emergency:" + std::to_string(a.id) + ":" + what;
}

}  // namespace

Alerts::Alerts(Storage& storage, Messenger& messenger, Scheduler& scheduler, Directory& directory, Policy policy)
    : storage_(storage),
      messenger_(messenger),
      scheduler_(scheduler),
      directory_(directory),
      policy_(std::move(policy)) {
  std::stable_sort(policy_.steps.begin(), policy_.steps.end(),
                   [](const Step& a, const Step& b) { return a.after_s < b.after_s; });
  if (policy_.teams.empty()) policy_.teams.push_back(Team{"应急队", {"emergency_team"}, {}});
  load_index();
}

const std::vector<Migration>& Alerts::migrations() {
  return emergency_migrations();
}

std::int64_t Alerts::now_ms() const {
  return plugin_support::now_ms(scheduler_);
}

Audience Alerts::team_audience(const std::string& name) {
  const Team* team = nullptr;
  for (const auto& t : policy_.teams)
    if (name.empty() ? &t == &policy_.teams.front() : t.name == name) team = &t;
  if (team == nullptr) {
    std::string known;
    for (const auto& t : policy_.teams) known += (known.empty() ? "" : "、") + t.name;
    throw AlertError(
        "invalid", "没有「" + name + "」这支队伍（有：" + known + "） / no team '" + name + "' (teams: " + known + ")");
  }
  Audience a;
  a.roles = team->roles;
  for (const auto& path : team->units) {
    auto unit = directory_.org_unit_by_path(path);
    if (!unit)
      throw AlertError("invalid", "队伍的组「" + path + "」不存在 / the team's unit '" + path + "' does not exist");
    a.within_org_units.push_back(unit->id);
  }
  return a;
}

std::string Alerts::message_text(const Alert& a) const {
  std::string t =
      std::string(a.drill ? "【演练】" : "") + "【应急】" + (a.kind == "应急" ? "" : a.kind + "：") + a.text;
  if (!a.meeting_point.empty()) t += "\n集合点：" + a.meeting_point;
  return t + "\n回复 1 到岗，2 无法到岗";
}

void Alerts::load_index() {
  std::lock_guard lock(index_mutex_);
  active_by_person_.clear();
  ended_by_person_.clear();
  active_alerts_ = 0;
  const auto since = now_ms() - kLateAnswerWindowMs;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT a.id, a.status, m.person_id FROM em_alerts a JOIN em_members m ON "
                                "m.alert_id = a.id WHERE a.status IN ('sending', 'active') OR "
                                "(a.status = 'stood_down' AND a.stood_down_at_ms >= ?) ORDER BY a.id",
                                {since})) {
      auto& map = r.text(1) == "stood_down" ? ended_by_person_ : active_by_person_;
      map[r.integer(2)] = r.integer(0);  // ascending: the latest alert wins
    }
    active_alerts_ = static_cast<std::size_t>(
        s.query("SELECT COUNT(*) FROM em_alerts WHERE status IN ('sending', 'active')").at(0).integer(0));
  });
}

bool Alerts::alerted(std::int64_t person_id) const {
  std::lock_guard lock(index_mutex_);
  return active_by_person_.contains(person_id);
}

bool Alerts::any_active() const {
  std::lock_guard lock(index_mutex_);
  return active_alerts_ > 0;
}

void Alerts::timeline_add(Session& s, std::int64_t alert_id, const std::string& event, std::int64_t person_id,
                          const std::string& detail) {
  s.execute("INSERT INTO em_timeline (alert_id, at_ms, event, person_id, detail) VALUES (?, ?, ?, ?, ?)",
            {alert_id, now_ms(), event, person_id > 0 ? Value{person_id} : Value{nullptr}, detail});
}

Alert Alerts::trigger(AlertRequest r, bool* created) {
  if (created != nullptr) *created = false;
  r.text = text::trim(r.text);
  if (r.text.empty()) throw AlertError("invalid", "警报内容不能为空 / the alert needs a text");
  for (const auto* f : {&r.text, &r.meeting_point, &r.kind, &r.idempotency_key})
    if (!text::valid_utf8(*f) || f->size() > kMaxText)
      throw AlertError("invalid", "内容不是有效的 UTF-8 或过长 / a field is not UTF-8 or longer than 1000 bytes");
  if (r.kind.empty()) r.kind = "应急";
  if (r.responses_needed <= 0) r.responses_needed = policy_.responses_needed;
  if (r.team.empty()) r.team = policy_.teams.front().name;
  const Audience audience = team_audience(r.team);
  auto by_key = [&](Session& s) -> std::optional<Alert> {
    if (r.idempotency_key.empty()) return std::nullopt;
    auto rows =
        s.query(std::string("SELECT ") + kColumns + " FROM em_alerts WHERE idempotency_key = ?", {r.idempotency_key});
    if (rows.empty()) return std::nullopt;
    return from_row(rows[0]);
  };
  if (auto earlier = storage_.read(by_key)) return *earlier;
  const auto members = directory_.resolve(audience);
  if (members.empty())
    throw AlertError("invalid", "「" + r.team + "」没有登记队员 / nobody is registered in the team '" + r.team + "'");
  std::optional<Alert> earlier;
  const auto now = now_ms();
  const std::int64_t id = storage_.write([&](Session& s) -> std::int64_t {
    if ((earlier = by_key(s))) return 0;
    s.execute(
        "INSERT INTO em_alerts (kind, text, meeting_point, team, responses_needed, drill, status, "
        "commander_person_id, created_by, idempotency_key, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, 'sending', ?, ?, "
        "?, ?)",
        {r.kind, r.text, r.meeting_point, r.team, r.responses_needed, std::int64_t{r.drill ? 1 : 0},
         r.commander_person_id > 0 ? Value{r.commander_person_id} : Value{nullptr}, r.created_by,
         r.idempotency_key.empty() ? Value{nullptr} : Value{r.idempotency_key}, now});
    const auto alert_id = s.last_insert_id();
    s.execute("INSERT INTO em_members (alert_id, person_id) SELECT ?, value FROM json_each(?)",
              {alert_id, json(members).dump()});
    timeline_add(s, alert_id, "triggered", r.commander_person_id,
                 r.created_by + "：" + std::to_string(members.size()) + " 人，需 " +
                     std::to_string(r.responses_needed) + " 人到岗" + (r.drill ? "（演练）" : ""));
    return alert_id;
  });
  if (earlier) return *earlier;
  if (created != nullptr) *created = true;
  {
    std::lock_guard lock(index_mutex_);
    for (auto p : members) active_by_person_[p] = id;
    ++active_alerts_;
  }
  Alert a = *get(id);
  send(a);
  return a;
}

void Alerts::send(Alert& a) {
  Broadcast b;
  b.kind = "alert";
  b.title = (a.drill ? "演练：" : "") + a.kind + "：" + a.text.substr(0, std::min<std::size_t>(a.text.size(), 60));
  b.text = message_text(a);
  Audience members;
  members.persons = storage_.read([&](Session& s) {
    std::vector<std::int64_t> ids;
    for (const Row& r : s.query("SELECT person_id FROM em_members WHERE alert_id = ? ORDER BY person_id", {a.id}))
      ids.push_back(r.integer(0));
    return ids;
  });
  b.audience = members;
  b.policy = ChannelPolicy::every_channel;
  b.priority = Priority::emergency;
  b.essential = true;  // quiet hours and 退订 do not apply
  b.ask_ack = true;
  b.idempotency_key = key_of(a, "alert");
  b.created_by = a.created_by.empty() ? "emergency" : a.created_by;
  DeliveryPlan plan;
  const auto bid = messenger_.broadcast(b, &plan);
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    if (s.execute("UPDATE em_alerts SET status = 'active', broadcast_id = ?, sent_at_ms = ? WHERE id = ? AND "
                  "status = 'sending'",
                  {bid, now, a.id}) > 0)
      timeline_add(s, a.id, "sent", 0,
                   "群消息 " + std::to_string(plan.group_posts) + " 条，短信 " + std::to_string(plan.sms) +
                       " 条，私聊 " + std::to_string(plan.personal_chats) + " 条，无法送达 " +
                       std::to_string(plan.unreachable) + " 人");
  });
  a.status = "active";
  a.broadcast_id = bid;
  a.sent_at_ms = now;
  schedule_next(a);
}

std::optional<std::int64_t> Alerts::due_ms(const Alert& a, int cycle, int step) const {
  if (policy_.steps.empty() || cycle > policy_.repeat || step >= static_cast<int>(policy_.steps.size()))
    return std::nullopt;
  const std::int64_t cycle_ms = policy_.steps.back().after_s * 1000;
  const std::int64_t base = a.sent_at_ms > 0 ? a.sent_at_ms : a.created_at_ms;
  return base + cycle * cycle_ms + policy_.steps[static_cast<std::size_t>(step)].after_s * 1000;
}

void Alerts::schedule_next(const Alert& a) {
  const auto due = due_ms(a, a.next_cycle, a.next_step);
  if (!due) return;  // the chain is over
  const auto job = scheduler_.schedule_at("emergency.step", at(*due),
                                          {{"alert_id", a.id}, {"cycle", a.next_cycle}, {"step", a.next_step}},
                                          Scheduler::Missed::fire_late);
  storage_.write_sync([&](Session& s) { s.execute("UPDATE em_alerts SET next_job_id = ? WHERE id = ?", {job, a.id}); });
}

std::vector<std::int64_t> Alerts::no_answer(std::int64_t alert_id) {
  return storage_.read([&](Session& s) {
    std::vector<std::int64_t> ids;
    for (const Row& r : s.query("SELECT person_id FROM em_members WHERE alert_id = ? AND answer IS NULL "
                                "ORDER BY person_id",
                                {alert_id}))
      ids.push_back(r.integer(0));
    return ids;
  });
}

std::string Alerts::names(const std::vector<std::int64_t>& ids, std::size_t max) {
  std::string out;
  const auto people = directory_.persons(
      std::vector<std::int64_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(max, ids.size()))));
  for (const auto& p : people) out += (out.empty() ? "" : "、") + p.name + (p.phone.empty() ? "" : " " + p.phone);
  if (ids.size() > max) out += " 等 " + std::to_string(ids.size()) + " 人";
  return out;
}

void Alerts::run_step(std::int64_t alert_id, int cycle, int step) {
  auto found = get(alert_id);
  if (!found) return;
  Alert a = *found;
  // A stale job (the step ran, or a restart scheduled it again) or a finished chain: nothing to do.
  if (a.status != "active" || a.enough_at_ms > 0 || cycle != a.next_cycle || step != a.next_step) return;
  if (step >= static_cast<int>(policy_.steps.size())) return;
  const Step& st = policy_.steps[static_cast<std::size_t>(step)];
  const auto waiting = no_answer(alert_id);
  const std::string tag = std::to_string(cycle) + ":" + std::to_string(step);
  const std::string drill = a.drill ? "【演练】" : "";
  std::string detail;
  if (!waiting.empty()) {
    if (st.action == "resend") {
      // Again by SMS, to those who have not answered (each sent once per step: its key).
      Broadcast b;
      b.kind = "alert";
      b.title = "再次提醒：" + a.kind;
      b.text = drill + "【应急·再次通知】" + (a.kind == "应急" ? "" : a.kind + "：") + a.text +
               (a.meeting_point.empty() ? "" : "\n集合点：" + a.meeting_point) + "\n请立即回复 1 到岗，2 无法到岗";
      b.audience.persons = waiting;
      b.policy = ChannelPolicy::sms_all;
      b.priority = Priority::emergency;
      b.essential = true;
      b.follow_up_of = a.broadcast_id;
      b.idempotency_key = key_of(a, "resend:" + tag);
      b.created_by = "emergency";
      messenger_.broadcast(b);
      detail = "再次短信通知 " + std::to_string(waiting.size()) + " 人";
    } else if (st.action == "notify_leaders") {
      // Each non-responder's central household head, else their unit's responsible person.
      std::map<std::int64_t, std::vector<std::int64_t>> by_leader;
      for (const auto& p : directory_.persons(waiting)) {
        std::int64_t leader = 0;
        if (auto h = directory_.household(p.household_id); h && h->central_household_id > 0)
          for (const auto& m : directory_.household_members(h->central_household_id))
            if (m.has_role(role::kCentralHouseholdHead) && m.id != p.id) leader = m.id;
        if (leader == 0)
          for (auto unit = directory_.org_unit(p.org_unit_id); unit && leader == 0;
               unit = unit->parent_id > 0 ? directory_.org_unit(unit->parent_id) : std::nullopt)
            if (unit->responsible_person_id > 0 && unit->responsible_person_id != p.id)
              leader = unit->responsible_person_id;
        if (leader > 0) by_leader[leader].push_back(p.id);
      }
      for (const auto& [leader, ids] : by_leader) {
        Broadcast b;
        b.kind = "alert";
        b.title = "应急未回复名单";
        b.text = drill + "【应急】" + a.kind + "：以下队员还没有回复，请马上联系：" + names(ids, 20);
        b.audience.persons = {leader};
        b.policy = ChannelPolicy::personal_all;
        b.priority = Priority::emergency;
        b.essential = true;
        b.ask_ack = false;
        b.idempotency_key = key_of(a, "leaders:" + tag + ":" + std::to_string(leader));
        b.created_by = "emergency";
        messenger_.broadcast(b);
      }
      detail = "通知 " + std::to_string(by_leader.size()) + " 位组长/中心户长，涉及 " + std::to_string(waiting.size()) +
               " 人";
    } else if (st.action == "notify_commander") {
      // The commander and the next responsible level (the village's responsible person).
      std::set<std::int64_t> to;
      if (a.commander_person_id > 0) to.insert(a.commander_person_id);
      if (auto root = directory_.org_unit_by_path(""); root && root->responsible_person_id > 0)
        to.insert(root->responsible_person_id);
      for (const auto& c : directory_.with_role(role::kCommander)) to.insert(c.id);
      const auto rc = roll_call(alert_id);
      Broadcast b;
      b.kind = "alert";
      b.title = "应急动员情况";
      b.text = drill + "【应急】" + a.kind + "：已过 " +
               std::to_string((now_ms() - (a.sent_at_ms > 0 ? a.sent_at_ms : a.created_at_ms)) / 60000) +
               " 分钟，到岗 " + std::to_string(rc.coming.size()) + "/" + std::to_string(a.responses_needed) +
               " 人，无法到岗 " + std::to_string(rc.cannot.size()) + " 人，未回复 " + std::to_string(waiting.size()) +
               " 人：" + names(waiting, 30);
      b.audience.persons = std::vector<std::int64_t>(to.begin(), to.end());
      b.policy = ChannelPolicy::personal_all;
      b.priority = Priority::emergency;
      b.essential = true;
      b.ask_ack = false;
      b.idempotency_key = key_of(a, "commander:" + tag);
      b.created_by = "emergency";
      if (!to.empty()) messenger_.broadcast(b);
      detail = "向指挥长和上一级报告（" + std::to_string(to.size()) + " 人），未回复 " +
               std::to_string(waiting.size()) + " 人";
    }
  } else {
    detail = "所有人都已回复";
  }
  // The step is done and the pointer moves on in one transaction: a later job for the same
  // step (a restart scheduled it again) finds the pointer past it and does nothing.
  int next_cycle = cycle, next_step = step + 1;
  if (next_step >= static_cast<int>(policy_.steps.size())) {
    next_step = 0;
    ++next_cycle;
  }
  const bool moved = storage_.write([&](Session& s) {
    if (s.execute("UPDATE em_alerts SET next_cycle = ?, next_step = ?, next_job_id = NULL WHERE id = ? AND "
                  "next_cycle = ? AND next_step = ?",
                  {std::int64_t{next_cycle}, std::int64_t{next_step}, alert_id, std::int64_t{cycle},
                   std::int64_t{step}}) == 0)
      return false;
    s.execute(
        "INSERT INTO em_steps (alert_id, cycle, step, action, persons, done_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON "
        "CONFLICT DO NOTHING",
        {alert_id, std::int64_t{cycle}, std::int64_t{step}, st.action, static_cast<std::int64_t>(waiting.size()),
         now_ms()});
    timeline_add(s, alert_id, st.action, 0, detail);
    return true;
  });
  if (!moved) return;
  a.next_cycle = next_cycle;
  a.next_step = next_step;
  schedule_next(a);
}

std::optional<Alerts::Recorded> Alerts::answer(std::int64_t person_id, Answer ans) {
  std::int64_t alert_id = 0;
  bool counted = true;
  {
    std::lock_guard lock(index_mutex_);
    if (auto it = active_by_person_.find(person_id); it != active_by_person_.end()) {
      alert_id = it->second;
    } else if (auto ended = ended_by_person_.find(person_id); ended != ended_by_person_.end()) {
      alert_id = ended->second;
      counted = false;
    }
  }
  if (alert_id == 0) return std::nullopt;
  const std::string word = ans == Answer::coming ? "coming" : "cannot";
  Recorded out;
  out.counted = counted;
  storage_.write_sync([&](Session& s) {
    if (!counted) {
      timeline_add(s, alert_id, "late_answer", person_id, word);
      return;
    }
    s.execute("UPDATE em_members SET answer = ?, answered_at_ms = ? WHERE alert_id = ? AND person_id = ?",
              {word, now_ms(), alert_id, person_id});
    timeline_add(s, alert_id, word, person_id, "");
    const auto coming = s.query("SELECT COUNT(*) FROM em_members WHERE alert_id = ? AND answer = 'coming'", {alert_id})
                            .at(0)
                            .integer(0);
    auto rows = s.query("SELECT responses_needed, COALESCE(enough_at_ms, 0) FROM em_alerts WHERE id = ?", {alert_id});
    if (!rows.empty() && rows[0].integer(1) == 0 && coming >= rows[0].integer(0)) {
      s.execute("UPDATE em_alerts SET enough_at_ms = ? WHERE id = ?", {now_ms(), alert_id});
      timeline_add(s, alert_id, "enough", 0, std::to_string(coming) + " 人到岗");
      out.enough_now = true;
    }
  });
  out.alert = *get(alert_id);
  if (counted && out.alert.broadcast_id > 0) messenger_.acknowledge(person_id, out.alert.broadcast_id);
  if (out.enough_now) {
    if (out.alert.next_job_id > 0) scheduler_.cancel(out.alert.next_job_id);  // escalation stops
    const auto rc = roll_call(alert_id);
    const std::string text = std::string(out.alert.drill ? "【演练】" : "") + "【应急】" + out.alert.kind + "：已有 " +
                             std::to_string(rc.coming.size()) + " 人到岗，达到所需 " +
                             std::to_string(out.alert.responses_needed) + " 人，停止升级通知。无法到岗 " +
                             std::to_string(rc.cannot.size()) + " 人，未回复 " + std::to_string(rc.no_answer.size()) +
                             " 人。发送「点名」查看名单。";
    if (out.alert.commander_person_id > 0) {
      SendOptions o;
      o.priority = Priority::emergency;
      o.essential = true;
      messenger_.send_to_person(out.alert.commander_person_id, text, o);
    }
  }
  return out;
}

Alert Alerts::stand_down(std::int64_t alert_id, const std::string& by) {
  auto a = get(alert_id);
  if (!a)
    throw AlertError("not_found",
                     "没有第 " + std::to_string(alert_id) + " 号警报 / no alert " + std::to_string(alert_id));
  if (a->status == "stood_down")
    throw AlertError("conflict", "第 " + std::to_string(alert_id) + " 号警报已解除 / alert " +
                                     std::to_string(alert_id) + " is stood down already");
  const auto now = now_ms();
  const bool changed = storage_.write([&](Session& s) {
    if (s.execute("UPDATE em_alerts SET status = 'stood_down', stood_down_at_ms = ?, stood_down_by = ? WHERE id = ? "
                  "AND status != 'stood_down'",
                  {now, by, alert_id}) == 0)
      return false;
    timeline_add(s, alert_id, "stood_down", 0, by);
    return true;
  });
  if (!changed) return *get(alert_id);
  if (a->next_job_id > 0) scheduler_.cancel(a->next_job_id);
  std::vector<std::int64_t> members;
  {
    std::lock_guard lock(index_mutex_);
    for (auto it = active_by_person_.begin(); it != active_by_person_.end();)
      if (it->second == alert_id) {
        members.push_back(it->first);
        ended_by_person_[it->first] = alert_id;
        it = active_by_person_.erase(it);
      } else {
        ++it;
      }
    if (active_alerts_ > 0) --active_alerts_;
  }
  Broadcast b;
  b.kind = "alert";
  b.title = "应急解除";
  b.text = std::string(a->drill ? "【演练】" : "") + "【应急解除】" + a->kind + "：" + a->text.substr(0, 90) +
           "——已解除，感谢大家！";
  b.audience.persons = storage_.read([&](Session& s) {
    std::vector<std::int64_t> ids;
    for (const Row& r : s.query("SELECT person_id FROM em_members WHERE alert_id = ?", {alert_id}))
      ids.push_back(r.integer(0));
    return ids;
  });
  b.policy = ChannelPolicy::every_channel;
  b.priority = Priority::emergency;
  b.essential = true;
  b.ask_ack = false;
  b.idempotency_key = key_of(*a, "stand-down");
  b.created_by = by;
  const auto bid = messenger_.broadcast(b);
  storage_.write_sync([&](Session& s) {
    s.execute("UPDATE em_alerts SET stand_down_broadcast_id = ? WHERE id = ?", {bid, alert_id});
  });
  return *get(alert_id);
}

int Alerts::recover() {
  int n = 0;
  const auto rows = storage_.read([](Session& s) {
    return s.query(std::string("SELECT ") + kColumns +
                   " FROM em_alerts WHERE status IN ('sending', 'active') ORDER BY id");
  });
  for (const Row& r : rows) {
    Alert a = from_row(r);
    if (a.status == "sending") {
      send(a);  // the broadcast's key: sent once
      ++n;
    } else if (a.enough_at_ms == 0) {
      schedule_next(a);  // a second job for the same step finds the pointer moved and does nothing
    }
  }
  load_index();
  return n;
}

std::optional<Alert> Alerts::get(std::int64_t id) {
  auto rows = storage_.read(
      [&](Session& s) { return s.query(std::string("SELECT ") + kColumns + " FROM em_alerts WHERE id = ?", {id}); });
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::vector<Alert> Alerts::list(std::int64_t offset, std::int64_t limit, std::int64_t* total) {
  return storage_.read([&](Session& s) {
    if (total != nullptr) *total = s.query("SELECT COUNT(*) FROM em_alerts").at(0).integer(0);
    std::vector<Alert> out;
    for (const Row& r : s.query(std::string("SELECT ") + kColumns + " FROM em_alerts ORDER BY id DESC LIMIT ? OFFSET ?",
                                {limit, offset}))
      out.push_back(from_row(r));
    return out;
  });
}

std::int64_t Alerts::latest_active() {
  return storage_.read([](Session& s) {
    auto rows = s.query("SELECT id FROM em_alerts WHERE status IN ('sending', 'active') ORDER BY id DESC LIMIT 1");
    return rows.empty() ? std::int64_t{0} : rows[0].integer(0);
  });
}

RollCall Alerts::roll_call(std::int64_t alert_id) {
  RollCall rc;
  auto a = get(alert_id);
  if (!a)
    throw AlertError("not_found",
                     "没有第 " + std::to_string(alert_id) + " 号警报 / no alert " + std::to_string(alert_id));
  rc.alert = *a;
  std::vector<std::int64_t> coming, cannot, none;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT person_id, COALESCE(answer, '') FROM em_members WHERE alert_id = ? ORDER BY "
                                "answered_at_ms, person_id",
                                {alert_id}))
      (r.text(1) == "coming" ? coming : r.text(1) == "cannot" ? cannot : none).push_back(r.integer(0));
  });
  rc.coming = directory_.persons(coming);
  rc.cannot = directory_.persons(cannot);
  rc.no_answer = directory_.persons(none);
  return rc;
}

std::vector<TimelineEvent> Alerts::timeline(std::int64_t alert_id) {
  std::vector<TimelineEvent> out;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT at_ms, event, COALESCE(person_id, 0), detail FROM em_timeline WHERE alert_id "
                                "= ? ORDER BY id",
                                {alert_id}))
      out.push_back(TimelineEvent{r.integer(0), r.text(1), r.integer(2), r.text(3)});
  });
  // Sent and delivered, per person, from the delivery engine (the alert and its re-sends).
  auto a = get(alert_id);
  if (a && a->broadcast_id > 0) {
    RecipientQuery q;
    for (const auto& r : messenger_.recipients(a->broadcast_id, q).items) {
      if (r.sent_at_ms > 0) out.push_back(TimelineEvent{r.sent_at_ms, "delivery_sent", r.person_id, r.via});
      if (r.delivered_at_ms > 0)
        out.push_back(TimelineEvent{r.delivered_at_ms, "delivery_delivered", r.person_id, r.via});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TimelineEvent& x, const TimelineEvent& y) { return x.at_ms < y.at_ms; });
  return out;
}

json Alerts::stats(bool include_drills) {
  return storage_.read([&](Session& s) {
    const std::string where = include_drills ? "" : " WHERE a.drill = 0";
    auto rows = s.query(
        "SELECT COUNT(*), COALESCE(SUM(m.n), 0), COALESCE(SUM(m.coming), 0), COALESCE(SUM(m.answered), 0), "
        "COALESCE(AVG(CASE WHEN a.enough_at_ms IS NOT NULL THEN (a.enough_at_ms - COALESCE(a.sent_at_ms, "
        "a.created_at_ms)) / 60000.0 END), 0), COUNT(a.enough_at_ms) FROM em_alerts a JOIN (SELECT alert_id, COUNT(*) "
        "AS n, SUM(answer = 'coming') AS coming, SUM(answer IS NOT NULL) AS answered FROM em_members GROUP BY "
        "alert_id) m ON m.alert_id = a.id" +
        where);
    const Row& r = rows.at(0);
    const auto members = r.integer(1);
    return json{{"alerts", r.integer(0)},
                {"members_alerted", members},
                {"coming", r.integer(2)},
                {"answered", r.integer(3)},
                {"turnout", members > 0 ? static_cast<double>(r.integer(2)) / static_cast<double>(members) : 0.0},
                {"answer_rate", members > 0 ? static_cast<double>(r.integer(3)) / static_cast<double>(members) : 0.0},
                {"alerts_that_reached_enough", r.integer(5)},
                {"average_minutes_to_enough", r.real(4)},
                {"drills_included", include_drills}};
  });
}

}  // namespace villagebot::emergency
