// The rota of a period through its life: preview (generate_rota, kept as a draft), adjust (an
// officer's changes, checked by the same rules), publish (the sign-ups in one transaction, each
// person told), and the fairness report on what is actually signed up.
#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "shifts.hpp"

namespace villagebot::volunteers {

using nlohmann::json;

namespace {
constexpr std::int64_t kHourMs = 3600 * 1000;
}

struct Shifts::Period {
  std::vector<RotaShift> shifts;       // the period's shifts with free places, not started, not cancelled
  std::vector<RotaVolunteer> people;   // volunteers who may serve (not suspended)
  std::map<std::int64_t, Shift> info;  // every shift of the period
  std::map<std::int64_t, std::string> names;
};

Shifts::Period Shifts::period(std::int64_t from_ms, std::int64_t to_ms) {
  Period p;
  const auto now = now_ms();
  std::map<std::int64_t, std::int64_t> before;         // person → ms already signed up in the period
  std::map<std::int64_t, std::vector<Interval>> busy;  // their shifts with the rest around them, and absences
  std::set<std::int64_t> suspended;
  const auto people = directory_.with_role(role::kVolunteer);
  storage_.read([&](Session& s) {
    for (const Row& r :
         s.query("SELECT s.id, s.post_id, s.start_ms, s.end_ms, s.capacity - (SELECT COUNT(*) FROM vol_signups u WHERE "
                 "u.shift_id = s.id AND u.status = 'signed'), p.required_role, s.cancelled_at_ms IS NOT NULL FROM "
                 "vol_shifts s JOIN vol_posts p ON p.id = s.post_id WHERE s.start_ms >= ? AND s.start_ms < ? ORDER BY "
                 "s.start_ms, s.id",
                 {from_ms, to_ms})) {
      // Full shifts too (capacity 0 left): a hand-made assignment to one is then over capacity.
      if (r.integer(6) == 0 && r.integer(2) > now)
        p.shifts.push_back(RotaShift{r.integer(0), r.integer(1), r.integer(2), r.integer(3),
                                     static_cast<int>(std::max<std::int64_t>(0, r.integer(4))), r.text(5)});
    }
    for (const Row& r :
         s.query("SELECT g.person_id, SUM(s.end_ms - s.start_ms) FROM vol_signups g JOIN vol_shifts s ON "
                 "s.id = g.shift_id WHERE g.status IN ('signed', 'completed') AND s.cancelled_at_ms IS NULL AND "
                 "s.start_ms >= ? AND s.start_ms < ? GROUP BY g.person_id",
                 {from_ms, to_ms}))
      before[r.integer(0)] = r.integer(1);
    for (const Row& r :
         s.query("SELECT g.person_id, s.start_ms, s.end_ms FROM vol_signups g JOIN vol_shifts s ON s.id = "
                 "g.shift_id WHERE g.status = 'signed' AND s.cancelled_at_ms IS NULL AND s.end_ms > ? AND "
                 "s.start_ms < ?",
                 {from_ms - kHourMs * 24, to_ms + kHourMs * 24}))
      busy[r.integer(0)].push_back({r.integer(1) - options_.min_rest_ms, r.integer(2) + options_.min_rest_ms});
    for (const Row& r : s.query("SELECT person_id, from_ms, to_ms FROM vol_unavailable WHERE to_ms > ? AND from_ms < ?",
                                {from_ms, to_ms}))
      busy[r.integer(0)].push_back({r.integer(1), r.integer(2)});
    for (const auto& v : people)
      if (record_in(s, v.id).suspended_until_ms > 0) suspended.insert(v.id);
  });
  for (const auto& s : shifts_between(from_ms, to_ms)) p.info[s.id] = s;
  for (const auto& person : people) {
    p.names[person.id] = person.name;
    if (suspended.contains(person.id)) continue;
    RotaVolunteer v;
    v.person_id = person.id;
    v.roles = person.roles;
    v.hours_before_ms = before.contains(person.id) ? before[person.id] : 0;
    if (busy.contains(person.id)) v.unavailable = busy[person.id];
    p.people.push_back(std::move(v));
  }
  return p;
}

json Shifts::draft_json(std::int64_t id, std::int64_t from_ms, std::int64_t to_ms,
                        const std::vector<Assignment>& assignments, const Period& p, bool published) {
  Rota rota;
  std::vector<Problem> problems;
  if (published) {
    rota.assignments = assignments;
  } else {
    problems = check_rota(assignments, p.shifts, p.people, {options_.min_rest_ms}, rota);
  }
  json list = json::array();
  for (const auto& a : assignments) {
    json item{{"shift_id", a.shift_id}, {"person_id", a.person_id}};
    if (const auto it = p.info.find(a.shift_id); it != p.info.end()) {
      item["post"] = it->second.post_code;
      item["start_ms"] = it->second.start_ms;
      item["end_ms"] = it->second.end_ms;
    }
    if (const auto it = p.names.find(a.person_id); it != p.names.end()) item["name"] = it->second;
    list.push_back(std::move(item));
  }
  json unfilled = json::object();
  for (const auto& [shift, n] : rota.unfilled) unfilled[std::to_string(shift)] = n;
  json wrong = json::array();
  for (const auto& pr : problems)
    wrong.push_back({{"shift_id", pr.shift_id}, {"person_id", pr.person_id}, {"problem", pr.code}});
  json out{{"draft_id", id},       {"from_ms", from_ms}, {"to_ms", to_ms},        {"assignments", list},
           {"unfilled", unfilled}, {"problems", wrong},  {"published", published}};
  if (!published) {
    const Fairness f = fairness(rota, p.people);
    out["fairness"] = {
        {"people", f.people}, {"min_hours", f.min_hours}, {"max_hours", f.max_hours}, {"mean_hours", f.mean_hours}};
  }
  return out;
}

namespace {

json assignments_json(const std::vector<Assignment>& list) {
  json out = json::array();
  for (const auto& a : list) out.push_back({{"shift_id", a.shift_id}, {"person_id", a.person_id}});
  return out;
}

std::vector<Assignment> assignments_of(const std::string& text) {
  std::vector<Assignment> out;
  const json j = json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& a : j) out.push_back({a.value("shift_id", std::int64_t{0}), a.value("person_id", std::int64_t{0})});
  return out;
}

}  // namespace

json Shifts::preview(std::int64_t from_ms, std::int64_t to_ms, const std::string& by) {
  if (to_ms <= from_ms || to_ms - from_ms > 370LL * 24 * kHourMs)
    throw ShiftError("invalid", "时间段不对（最长一年） / the period is wrong (at most a year)");
  const Period p = period(from_ms, to_ms);
  const Rota r = generate_rota(p.shifts, p.people, {options_.min_rest_ms});
  const auto id = storage_.write([&](Session& s) {
    s.execute(
        "INSERT INTO vol_rota_drafts (from_ms, to_ms, assignments, created_at_ms, created_by) VALUES (?, ?, ?, ?, ?)",
        {from_ms, to_ms, assignments_json(r.assignments).dump(), now_ms(), by});
    return s.last_insert_id();
  });
  return draft_json(id, from_ms, to_ms, r.assignments, p, false);
}

json Shifts::draft(std::int64_t draft_id) {
  const auto rows = storage_.read([&](Session& s) {
    return s.query("SELECT from_ms, to_ms, assignments, published_at_ms IS NOT NULL FROM vol_rota_drafts WHERE id = ?",
                   {draft_id});
  });
  if (rows.empty()) throw ShiftError("not_found", "没有这个排班草稿 / no such rota draft");
  const auto from = rows[0].integer(0), to = rows[0].integer(1);
  return draft_json(draft_id, from, to, assignments_of(rows[0].text(2)), period(from, to), rows[0].integer(3) != 0);
}

json Shifts::adjust(std::int64_t draft_id, const std::vector<Assignment>& assignments) {
  const auto rows = storage_.read([&](Session& s) {
    return s.query("SELECT from_ms, to_ms, published_at_ms IS NOT NULL FROM vol_rota_drafts WHERE id = ?", {draft_id});
  });
  if (rows.empty()) throw ShiftError("not_found", "没有这个排班草稿 / no such rota draft");
  if (rows[0].integer(2) != 0) throw ShiftError("conflict", "排班已发布，不能再改 / the rota is published already");
  const auto from = rows[0].integer(0), to = rows[0].integer(1);
  const Period p = period(from, to);
  json out = draft_json(draft_id, from, to, assignments, p, false);
  if (!out["problems"].empty()) return out;  // not saved: the caller answers 422 with the problems
  storage_.write_sync([&](Session& s) {
    s.execute("UPDATE vol_rota_drafts SET assignments = ? WHERE id = ? AND published_at_ms IS NULL",
              {assignments_json(assignments).dump(), draft_id});
  });
  return out;
}

json Shifts::publish(std::int64_t draft_id) {
  const auto rows = storage_.read([&](Session& s) {
    return s.query("SELECT from_ms, to_ms, assignments, published_at_ms IS NOT NULL FROM vol_rota_drafts WHERE id = ?",
                   {draft_id});
  });
  if (rows.empty()) throw ShiftError("not_found", "没有这个排班草稿 / no such rota draft");
  const auto from = rows[0].integer(0), to = rows[0].integer(1);
  const Period p = period(from, to);
  std::vector<Problem> problems;
  std::vector<Assignment> written;
  bool first = false;
  if (rows[0].integer(3) == 0) {
    Rota sound;
    problems = check_rota(assignments_of(rows[0].text(2)), p.shifts, p.people, {options_.min_rest_ms}, sound);
    const auto now = now_ms();
    storage_.write_sync([&](Session& s) {
      written.clear();
      // The draft is claimed first: of two publishes at once, one writes and the other finds it done.
      first = s.execute("UPDATE vol_rota_drafts SET published_at_ms = ? WHERE id = ? AND published_at_ms IS NULL",
                        {now, draft_id}) > 0;
      if (!first) return;
      // Each place is taken only while the shift still has one: a 报名 since the preview wins.
      for (const auto& a : sound.assignments) {
        const auto changed = s.execute(
            "INSERT INTO vol_signups (shift_id, person_id, status, signed_at_ms) SELECT ?, ?, 'signed', ? WHERE "
            "(SELECT COUNT(*) FROM vol_signups WHERE shift_id = ? AND status = 'signed') < (SELECT capacity FROM "
            "vol_shifts WHERE id = ? AND cancelled_at_ms IS NULL) ON CONFLICT (shift_id, person_id) DO UPDATE SET "
            "status = 'signed', checked_in_at_ms = NULL, offered_at_ms = NULL, swapped_to = NULL WHERE status != "
            "'signed'",
            {a.shift_id, a.person_id, now, a.shift_id, a.shift_id});
        if (changed > 0) written.push_back(a);
      }
      s.execute("UPDATE vol_rota_drafts SET assignments = ? WHERE id = ?",
                {assignments_json(written).dump(), draft_id});
    });
    if (first) {
      for (const auto& a : sound.assignments)
        if (std::find_if(written.begin(), written.end(), [&](const Assignment& w) {
              return w.shift_id == a.shift_id && w.person_id == a.person_id;
            }) == written.end())
          problems.push_back({a.shift_id, a.person_id, "taken_meanwhile"});
    }
  }
  if (!first) {  // published before (or by a concurrent call): what was written then
    const auto again = storage_.read(
        [&](Session& s) { return s.query("SELECT assignments FROM vol_rota_drafts WHERE id = ?", {draft_id}); });
    written = assignments_of(again.at(0).text(0));
    problems.clear();
  }
  // Each person assigned is told by a notice; the keys make a repeated publish (or one after a
  // crash before everyone was told) tell nobody twice and miss nobody.
  std::map<std::int64_t, std::vector<std::int64_t>> by_person;
  for (const auto& a : written) by_person[a.person_id].push_back(a.shift_id);
  for (const auto& [person, ids] : by_person) {
    std::string body = "您被安排值班：", body_en = "You are on the rota:";
    for (auto id : ids)
      if (const auto it = p.info.find(id); it != p.info.end()) {
        body += "\n" + describe(it->second, Lang::zh);
        body_en += "\n" + describe(it->second, Lang::en);
      }
    body += "\n发送「我的班次」查看；不能来请在截止前发送「取消报名 班次号」，或发送「换班 班次号」找人接班。";
    body_en += "\nSend \"shifts\" to see them; cannot come? \"unsignup <no>\" before the cut-off, or \"swap <no>\".";
    events_.publish("announcements.notice", {{"category", "值班安排"},
                                             {"title", "值班安排"},
                                             {"body", body},
                                             {"body_en", body_en},
                                             {"audience", {{"persons", {person}}}},
                                             {"ask_ack", true},
                                             {"source", "volunteers"},
                                             {"idempotency_key", "volunteers.rota:" + std::to_string(draft_id) + ":" +
                                                                     std::to_string(person)}});
  }
  json out = draft_json(draft_id, from, to, written, p, true);
  json skipped = json::array();
  for (const auto& pr : problems)
    skipped.push_back({{"shift_id", pr.shift_id}, {"person_id", pr.person_id}, {"problem", pr.code}});
  out["skipped"] = skipped;
  return out;
}

json Shifts::fairness_report(std::int64_t from_ms, std::int64_t to_ms) {
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> load;  // person → (ms, shifts)
  std::int64_t longest = 0;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query(
             "SELECT g.person_id, SUM(s.end_ms - s.start_ms), COUNT(*) FROM vol_signups g JOIN vol_shifts s ON s.id = "
             "g.shift_id WHERE g.status IN ('signed', 'completed') AND s.cancelled_at_ms IS NULL AND s.start_ms >= ? "
             "AND s.start_ms < ? GROUP BY g.person_id",
             {from_ms, to_ms}))
      load[r.integer(0)] = {r.integer(1), r.integer(2)};
    const auto l = s.query(
        "SELECT COALESCE(MAX(end_ms - start_ms), 0) FROM vol_shifts WHERE cancelled_at_ms IS NULL AND start_ms >= ? "
        "AND start_ms < ?",
        {from_ms, to_ms});
    longest = l[0].integer(0);
  });
  std::map<std::int64_t, std::string> names;
  for (const auto& p : directory_.with_role(role::kVolunteer)) {
    names[p.id] = p.name;
    load.try_emplace(p.id, 0, 0);
  }
  std::vector<std::int64_t> others;
  for (const auto& [id, l] : load)
    if (!names.contains(id)) others.push_back(id);
  for (const auto& p : directory_.persons(others)) names[p.id] = p.name;
  json persons = json::array();
  double min = 0, max = 0, total = 0;
  bool first = true;
  for (const auto& [id, l] : load) {
    const double h = static_cast<double>(l.first) / static_cast<double>(kHourMs);
    min = first ? h : std::min(min, h);
    max = first ? h : std::max(max, h);
    first = false;
    total += h;
    persons.push_back({{"person_id", id}, {"name", names[id]}, {"hours", h}, {"shifts", l.second}});
  }
  const double mean = load.empty() ? 0 : total / static_cast<double>(load.size());
  const double shift_h = static_cast<double>(longest) / static_cast<double>(kHourMs);
  json overloaded = json::array();
  for (const auto& p : persons)
    if (p["hours"].get<double>() > mean + shift_h) overloaded.push_back(p);
  return {{"from_ms", from_ms},
          {"to_ms", to_ms},
          {"people", load.size()},
          {"min_hours", min},
          {"max_hours", max},
          {"mean_hours", mean},
          {"spread_hours", max - min},
          {"longest_shift_hours", shift_h},
          {"within_one_shift", max - min <= shift_h},
          {"overloaded", overloaded},
          {"persons", persons}};
}

}  // namespace villagebot::volunteers
