#include "shifts.hpp"

#include <chrono>
#include <cstdio>
#include <map>

#include "rota.hpp"

#include <nlohmann/json.hpp>

namespace villagebot::volunteers {

const std::vector<Migration>& volunteers_migrations();  // generated from schema/volunteers_NNN.sql

namespace {

constexpr const char* kShiftColumns =
    "s.id, s.post_id, s.start_ms, s.end_ms, s.capacity, s.signup_cutoff_ms, COALESCE(s.completed_at_ms, 0), "
    "(SELECT COUNT(*) FROM vol_signups u WHERE u.shift_id = s.id AND u.status = 'signed')";

Shift shift_from(const Row& r) {
  Shift s;
  s.id = r.integer(0);
  s.post_id = r.integer(1);
  s.start_ms = r.integer(2);
  s.end_ms = r.integer(3);
  s.capacity = static_cast<int>(r.integer(4));
  s.signup_cutoff_ms = r.integer(5);
  s.completed_at_ms = r.integer(6);
  s.signed_up = static_cast<int>(r.integer(7));
  return s;
}

}  // namespace

Shifts::Shifts(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events)
    : storage_(storage), scheduler_(scheduler), directory_(directory), events_(events) {}

const std::vector<Migration>& Shifts::migrations() {
  return volunteers_migrations();
}

std::int64_t Shifts::now_ms() const {
  return plugin_support::now_ms(scheduler_);
}

void Shifts::load_posts(const std::vector<Post>& posts) {
  storage_.write_sync([&](Session& s) {
    for (const auto& p : posts)
      s.execute(
          "INSERT INTO vol_posts (code, name, place, required_role, points_rule, points) VALUES (?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (code) DO UPDATE SET name = excluded.name, place = excluded.place, required_role = "
          "excluded.required_role, points_rule = excluded.points_rule, points = excluded.points",
          {p.code, p.name, p.place, p.required_role, p.points_rule, p.points});
  });
}

std::optional<Post> Shifts::post(const std::string& code) {
  auto rows = storage_.read([&](Session& s) {
    return s.query("SELECT id, code, name, place, required_role, points_rule, points FROM vol_posts WHERE code = ?",
                   {code});
  });
  if (rows.empty()) return std::nullopt;
  const Row& r = rows[0];
  return Post{r.integer(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.integer(6)};
}

Shift Shifts::add_shift(const std::string& post_code, std::int64_t start_ms, std::int64_t end_ms, int capacity,
                        std::int64_t cutoff_ms) {
  const auto p = post(post_code);
  if (!p) throw ShiftError("not_found", "没有岗位 " + post_code + " / no post " + post_code);
  if (end_ms <= start_ms || capacity < 1 || capacity > 1000)
    throw ShiftError("invalid", "时间或人数不对 / the times or the capacity are wrong");
  if (cutoff_ms == 0 || cutoff_ms > start_ms) cutoff_ms = start_ms;
  const auto id = storage_.write([&](Session& s) {
    s.execute("INSERT INTO vol_shifts (post_id, start_ms, end_ms, capacity, signup_cutoff_ms) VALUES (?, ?, ?, ?, ?)",
              {p->id, start_ms, end_ms, std::int64_t{capacity}, cutoff_ms});
    return s.last_insert_id();
  });
  const auto job =
      scheduler_.schedule_at("volunteers.complete", Scheduler::Clock::time_point(std::chrono::milliseconds(end_ms)),
                             {{"shift_id", id}}, Scheduler::Missed::fire_late);
  storage_.write_sync([&](Session& s) {
    s.execute("UPDATE vol_shifts SET completion_job_id = ? WHERE id = ?", {job, id});
  });
  return *shift(id);
}

Shift Shifts::sign_up(std::int64_t shift_id, const Person& person) {
  const auto sh = shift(shift_id);
  if (!sh)
    throw ShiftError("not_found",
                     "没有第 " + std::to_string(shift_id) + " 号班次 / no shift " + std::to_string(shift_id));
  const auto p = storage_.read(
      [&](Session& s) { return s.query("SELECT required_role, name FROM vol_posts WHERE id = ?", {sh->post_id}); });
  if (!p.empty() && !p[0].text(0).empty() && !person.has_role(p[0].text(0)))
    throw ShiftError("forbidden",
                     p[0].text(1) + " 需要 " + p[0].text(0) + " / this post needs the role " + p[0].text(0));
  const auto now = now_ms();
  if (now >= sh->signup_cutoff_ms) throw ShiftError("conflict", "报名已截止 / sign-ups for this shift are closed");
  // Counted and inserted in one write: the single writer makes the last place go to one person.
  const std::string outcome = storage_.write([&](Session& s) -> std::string {
    auto mine = s.query("SELECT status FROM vol_signups WHERE shift_id = ? AND person_id = ?", {shift_id, person.id});
    if (!mine.empty() && mine[0].text(0) == "signed") return "already";
    const auto taken = s.query("SELECT COUNT(*) FROM vol_signups WHERE shift_id = ? AND status = 'signed'", {shift_id})
                           .at(0)
                           .integer(0);
    if (taken >= sh->capacity) return "full";
    s.execute(
        "INSERT INTO vol_signups (shift_id, person_id, status, signed_at_ms) VALUES (?, ?, 'signed', ?) ON CONFLICT "
        "(shift_id, person_id) DO UPDATE SET status = 'signed', signed_at_ms = excluded.signed_at_ms",
        {shift_id, person.id, now});
    return "ok";
  });
  if (outcome == "full") throw ShiftError("conflict", "这个班次已经报满了 / the shift is full");
  if (outcome == "already") throw ShiftError("conflict", "您已经报名了这个班次 / you are signed up already");
  return *shift(shift_id);
}

void Shifts::cancel(std::int64_t shift_id, const Person& person) {
  const auto sh = shift(shift_id);
  if (!sh) throw ShiftError("not_found", "没有这个班次 / no such shift");
  if (now_ms() >= sh->signup_cutoff_ms) throw ShiftError("conflict", "已过取消期限 / too late to cancel");
  const bool changed = storage_.write([&](Session& s) {
    return s.execute(
               "UPDATE vol_signups SET status = 'cancelled' WHERE shift_id = ? AND person_id = ? AND status = "
               "'signed'",
               {shift_id, person.id}) > 0;
  });
  if (!changed) throw ShiftError("not_found", "您没有报名这个班次 / you are not signed up for it");
}

Shift Shifts::check_in(const Person& person) {
  const auto now = now_ms();
  auto rows = storage_.read([&](Session& s) {
    return s.query(std::string("SELECT ") + kShiftColumns +
                       " FROM vol_shifts s JOIN vol_signups g ON g.shift_id = s.id WHERE g.person_id = ? AND g.status "
                       "= 'signed' AND s.start_ms <= ? AND s.end_ms > ? ORDER BY s.start_ms LIMIT 1",
                   {person.id, now, now});
  });
  if (rows.empty()) throw ShiftError("not_found", "您现在没有正在进行的班次 / you are on no shift right now");
  const Shift sh = shift_from(rows[0]);
  storage_.write_sync([&](Session& s) {
    s.execute(
        "UPDATE vol_signups SET checked_in_at_ms = COALESCE(checked_in_at_ms, ?) WHERE shift_id = ? AND "
        "person_id = ?",
        {now, sh.id, person.id});
  });
  return sh;
}

void Shifts::complete(std::int64_t shift_id) {
  const auto sh = shift(shift_id);
  if (!sh) return;
  struct Done {
    std::int64_t person_id;
    bool completed;
  };
  std::vector<Done> done;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT person_id, checked_in_at_ms IS NOT NULL FROM vol_signups WHERE shift_id = ? "
                                "AND status IN ('signed', 'completed') ORDER BY person_id",
                                {shift_id}))
      done.push_back({r.integer(0), r.integer(1) != 0});
  });
  const auto p = storage_.read([&](Session& s) {
    return s.query("SELECT code, name, points_rule, points FROM vol_posts WHERE id = ?", {sh->post_id});
  });
  // Points first, each with its key (the points ledger takes a key once): a repeated job or a
  // restart between here and the marks below awards nothing twice.
  for (const auto& d : done) {
    if (!d.completed || p.empty() || p[0].text(2).empty()) continue;
    const auto person = directory_.person(d.person_id);
    if (!person || person->household_id == 0) continue;
    events_.publish("points.award", {{"household_id", person->household_id},
                                     {"rule_code", p[0].text(2)},
                                     {"points", p[0].integer(3)},
                                     {"reason", p[0].text(1) + "值班"},
                                     {"source", "volunteers"},
                                     {"idempotency_key", "volunteers:shift:" + std::to_string(shift_id) + ":" +
                                                             std::to_string(d.person_id)}});
  }
  storage_.write_sync([&](Session& s) {
    for (const auto& d : done)
      s.execute("UPDATE vol_signups SET status = ? WHERE shift_id = ? AND person_id = ?",
                {std::string(d.completed ? "completed" : "no_show"), shift_id, d.person_id});
    s.execute("UPDATE vol_shifts SET completed_at_ms = COALESCE(completed_at_ms, ?) WHERE id = ?",
              {now_ms(), shift_id});
  });
}

nlohmann::json Shifts::rota(std::int64_t from_ms, std::int64_t to_ms, bool publish) {
  using nlohmann::json;
  std::vector<RotaShift> shifts;
  std::map<std::int64_t, std::string> post_of_shift;
  std::vector<RotaVolunteer> people;
  std::map<std::int64_t, std::int64_t> before;         // person → ms already signed up in the period
  std::map<std::int64_t, std::vector<Interval>> busy;  // their shifts, with an hour's rest around
  storage_.read([&](Session& s) {
    for (const Row& r :
         s.query("SELECT s.id, s.post_id, s.start_ms, s.end_ms, s.capacity - (SELECT COUNT(*) FROM "
                 "vol_signups u WHERE u.shift_id = s.id AND u.status = 'signed'), p.required_role, "
                 "p.name FROM vol_shifts s JOIN vol_posts p ON p.id = s.post_id WHERE s.start_ms >= ? AND "
                 "s.start_ms < ? ORDER BY s.start_ms, s.id",
                 {from_ms, to_ms})) {
      if (r.integer(4) > 0)
        shifts.push_back(RotaShift{r.integer(0), r.integer(1), r.integer(2), r.integer(3),
                                   static_cast<int>(r.integer(4)), r.text(5)});
      post_of_shift[r.integer(0)] = r.text(6);
    }
    for (const Row& r :
         s.query("SELECT g.person_id, SUM(s.end_ms - s.start_ms) FROM vol_signups g JOIN vol_shifts s ON "
                 "s.id = g.shift_id WHERE g.status = 'signed' AND s.start_ms >= ? AND s.start_ms < ? "
                 "GROUP BY g.person_id",
                 {from_ms, to_ms}))
      before[r.integer(0)] = r.integer(1);
    for (const Row& r :
         s.query("SELECT g.person_id, s.start_ms, s.end_ms FROM vol_signups g JOIN vol_shifts s ON s.id = "
                 "g.shift_id WHERE g.status = 'signed' AND s.end_ms > ? AND s.start_ms < ?",
                 {from_ms, to_ms}))
      busy[r.integer(0)].push_back({r.integer(1) - 3600 * 1000, r.integer(2) + 3600 * 1000});
  });
  for (const auto& p : directory_.with_role(role::kVolunteer)) {
    RotaVolunteer v;
    v.person_id = p.id;
    v.roles = p.roles;
    v.hours_before_ms = before.contains(p.id) ? before[p.id] : 0;
    // Already on a shift of the period: not on another at the same time or right next to it.
    if (busy.contains(p.id)) v.unavailable = busy[p.id];
    people.push_back(std::move(v));
  }
  const Rota r = generate_rota(shifts, people);
  json assignments = json::array();
  for (const auto& a : r.assignments) assignments.push_back({{"shift_id", a.shift_id}, {"person_id", a.person_id}});
  json unfilled = json::object();
  for (const auto& [id, n] : r.unfilled) unfilled[std::to_string(id)] = n;
  const Fairness f = fairness(r, people);
  json out{
      {"assignments", assignments},
      {"unfilled", unfilled},
      {"fairness",
       {{"people", f.people}, {"min_hours", f.min_hours}, {"max_hours", f.max_hours}, {"mean_hours", f.mean_hours}}},
      {"published", publish}};
  if (!publish) return out;
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    for (const auto& a : r.assignments)
      s.execute(
          "INSERT INTO vol_signups (shift_id, person_id, status, signed_at_ms) VALUES (?, ?, 'signed', ?) ON "
          "CONFLICT (shift_id, person_id) DO UPDATE SET status = 'signed'",
          {a.shift_id, a.person_id, now});
  });
  std::map<std::int64_t, std::vector<std::int64_t>> by_person;
  for (const auto& a : r.assignments) by_person[a.person_id].push_back(a.shift_id);
  for (const auto& [person, ids] : by_person) {
    std::string body = "您被安排值班：";
    for (auto id : ids) body += "\n第 " + std::to_string(id) + " 号 " + post_of_shift[id];
    body += "\n发送「我的班次」查看，「取消报名 班次号」在截止前取消。";
    events_.publish("announcements.notice",
                    {{"category", "值班安排"},
                     {"title", "值班安排"},
                     {"body", body},
                     {"audience", {{"persons", {person}}}},
                     {"ask_ack", true},
                     {"source", "volunteers"},
                     {"idempotency_key", "volunteers.rota:" + std::to_string(from_ms) + ":" + std::to_string(to_ms) +
                                             ":" + std::to_string(person)}});
  }
  return out;
}

namespace {

std::string ics_time(std::int64_t ms) {
  using namespace std::chrono;
  const sys_seconds t{seconds{ms / 1000}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

// RFC 5545 3.3.11 TEXT: backslash, semicolon, comma and newline escaped.
std::string ics_text(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == ';' || c == ',') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// RFC 5545 3.1: lines of at most 75 octets, folded with CRLF and a space, never inside a
// UTF-8 character.
std::string fold(const std::string& line) {
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < line.size();) {
    std::size_t len = 1;
    const auto c = static_cast<unsigned char>(line[i]);
    if (c >= 0xF0)
      len = 4;
    else if (c >= 0xE0)
      len = 3;
    else if (c >= 0xC0)
      len = 2;
    if (col + len > 75) {
      out += "\r\n ";
      col = 1;
    }
    out.append(line, i, len);
    col += len;
    i += len;
  }
  return out + "\r\n";
}

std::string calendar(const std::string& name, const std::vector<std::pair<Shift, Post>>& shifts, std::int64_t now_ms) {
  std::string out = fold("BEGIN:VCALENDAR") + fold("VERSION:2.0") + fold("PRODID:-//villagebot//volunteers//ZH") +
                    fold("CALSCALE:GREGORIAN") + fold("X-WR-CALNAME:" + ics_text(name));
  for (const auto& [s, p] : shifts) {
    out += fold("BEGIN:VEVENT") + fold("UID:shift-" + std::to_string(s.id) + "@villagebot") +
           fold("DTSTAMP:" + ics_time(now_ms)) + fold("DTSTART:" + ics_time(s.start_ms)) +
           fold("DTEND:" + ics_time(s.end_ms)) + fold("SUMMARY:" + ics_text(p.name + "值班")) +
           (p.place.empty() ? std::string() : fold("LOCATION:" + ics_text(p.place))) + fold("END:VEVENT");
  }
  return out + fold("END:VCALENDAR");
}

}  // namespace

std::string Shifts::ics_of_person(std::int64_t person_id) {
  std::vector<std::pair<Shift, Post>> list;
  storage_.read([&](Session& s) {
    for (const Row& r :
         s.query(std::string("SELECT ") + kShiftColumns +
                     ", p.id, p.code, p.name, p.place FROM vol_shifts s JOIN vol_signups g ON g.shift_id = "
                     "s.id JOIN vol_posts p ON p.id = s.post_id WHERE g.person_id = ? AND g.status IN "
                     "('signed', 'completed') ORDER BY s.start_ms",
                 {person_id}))
      list.push_back({shift_from(r), Post{r.integer(8), r.text(9), r.text(10), r.text(11), "", "", 0}});
  });
  const auto p = directory_.person(person_id);
  return calendar((p ? p->name : std::string("志愿者")) + "的值班", list, now_ms());
}

std::string Shifts::ics_of_post(const std::string& code) {
  std::vector<std::pair<Shift, Post>> list;
  std::string name = code;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query(std::string("SELECT ") + kShiftColumns +
                                    ", p.id, p.code, p.name, p.place FROM vol_shifts s JOIN vol_posts p ON p.id = "
                                    "s.post_id WHERE p.code = ? ORDER BY s.start_ms",
                                {code})) {
      list.push_back({shift_from(r), Post{r.integer(8), r.text(9), r.text(10), r.text(11), "", "", 0}});
      name = r.text(10);
    }
  });
  return calendar(name, list, now_ms());
}

std::optional<Shift> Shifts::shift(std::int64_t id) {
  auto rows = storage_.read([&](Session& s) {
    return s.query(std::string("SELECT ") + kShiftColumns + " FROM vol_shifts s WHERE s.id = ?", {id});
  });
  if (rows.empty()) return std::nullopt;
  return shift_from(rows[0]);
}

std::vector<Shift> Shifts::upcoming_of(std::int64_t person_id) {
  return storage_.read([&](Session& s) {
    std::vector<Shift> out;
    for (const Row& r : s.query(std::string("SELECT ") + kShiftColumns +
                                    " FROM vol_shifts s JOIN vol_signups g ON g.shift_id = s.id WHERE g.person_id = ? "
                                    "AND g.status = 'signed' AND s.end_ms > ? ORDER BY s.start_ms",
                                {person_id, now_ms()}))
      out.push_back(shift_from(r));
    return out;
  });
}

}  // namespace villagebot::volunteers
