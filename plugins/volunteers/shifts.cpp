#include "shifts.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace villagebot::volunteers {

const std::vector<Migration>& volunteers_migrations();  // generated from schema/volunteers_NNN.sql

namespace {

using nlohmann::json;
constexpr std::int64_t kMinute = 60 * 1000;
constexpr std::int64_t kDay = 24 * 60 * kMinute;

// A shift with its post; `shift_from` reads these columns in this order.
constexpr const char* kShiftSelect =
    "SELECT s.id, s.post_id, s.start_ms, s.end_ms, s.capacity, s.signup_cutoff_ms, COALESCE(s.completed_at_ms, 0), "
    "COALESCE(s.cancelled_at_ms, 0), COALESCE(s.template_id, 0), "
    "(SELECT COUNT(*) FROM vol_signups u WHERE u.shift_id = s.id AND u.status = 'signed'), "
    "(SELECT COUNT(*) FROM vol_signups u WHERE u.shift_id = s.id AND u.status = 'signed' AND u.offered_at_ms IS NOT "
    "NULL), p.code, p.name, p.place FROM vol_shifts s JOIN vol_posts p ON p.id = s.post_id ";

Shift shift_from(const Row& r) {
  Shift s;
  s.id = r.integer(0);
  s.post_id = r.integer(1);
  s.start_ms = r.integer(2);
  s.end_ms = r.integer(3);
  s.capacity = static_cast<int>(r.integer(4));
  s.signup_cutoff_ms = r.integer(5);
  s.completed_at_ms = r.integer(6);
  s.cancelled_at_ms = r.integer(7);
  s.template_id = r.integer(8);
  s.signed_up = static_cast<int>(r.integer(9));
  s.offered = static_cast<int>(r.integer(10));
  s.post_code = r.text(11);
  s.post_name = r.text(12);
  s.place = r.text(13);
  return s;
}

std::vector<Shift> shifts_of(Session& s, const std::string& where, const std::vector<Value>& params) {
  std::vector<Shift> out;
  for (const Row& r : s.query(std::string(kShiftSelect) + where, params)) out.push_back(shift_from(r));
  return out;
}

Post post_from(const Row& r) {
  return Post{r.integer(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.integer(6)};
}

constexpr const char* kPostSelect = "SELECT id, code, name, place, required_role, points_rule, points FROM vol_posts ";

std::string weekdays_text(const std::vector<int>& days) {
  std::string out;
  for (int d : days) out += (out.empty() ? "" : ",") + std::to_string(d);
  return out;
}

std::vector<int> weekdays_of(const std::string& text) {
  std::vector<int> out;
  for (char c : text)
    if (c >= '1' && c <= '7') out.push_back(c - '0');
  return out;
}

// Inside a write: the shift is neither cancelled nor completed (a cancellation since the caller
// looked wins).
bool open_in(Session& s, std::int64_t shift_id) {
  return !s.query("SELECT 1 FROM vol_shifts WHERE id = ? AND cancelled_at_ms IS NULL AND completed_at_ms IS NULL",
                  {shift_id})
              .empty();
}

}  // namespace

std::optional<int> parse_clock(const std::string& text) {
  auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) return std::nullopt;
  const int h = (text[0] - '0') * 10 + (text[1] - '0'), m = (text[3] - '0') * 10 + (text[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

// ---------------------------------------------------------------------------------------------
// Setup, posts and templates

Shifts::Shifts(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events, Messenger& messenger,
               ShiftsOptions options)
    : storage_(storage),
      scheduler_(scheduler),
      directory_(directory),
      events_(events),
      messenger_(messenger),
      options_(options) {}

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
  auto rows = storage_.read([&](Session& s) { return s.query(std::string(kPostSelect) + "WHERE code = ?", {code}); });
  if (rows.empty()) return std::nullopt;
  return post_from(rows[0]);
}

std::vector<Post> Shifts::posts() {
  return storage_.read([&](Session& s) {
    std::vector<Post> out;
    for (const Row& r : s.query(std::string(kPostSelect) + "ORDER BY code")) out.push_back(post_from(r));
    return out;
  });
}

namespace {

void check_template(const ShiftTemplate& t) {
  const bool days_ok =
      !t.weekdays.empty() && std::all_of(t.weekdays.begin(), t.weekdays.end(), [](int d) { return d >= 1 && d <= 7; });
  if (!days_ok) throw ShiftError("invalid", "星期应为 1（周一）到 7（周日） / weekdays are 1 (Monday) to 7 (Sunday)");
  if (t.start_minute < 0 || t.end_minute <= t.start_minute || t.end_minute > 24 * 60)
    throw ShiftError("invalid",
                     "开始和结束时间不对（同一天内，结束晚于开始） / start and end must be within one day, "
                     "end after start");
  if (t.capacity < 1 || t.capacity > 1000) throw ShiftError("invalid", "人数应为 1–1000 / capacity is 1 to 1000");
  if (t.cutoff_minutes < 0 || t.cutoff_minutes > 14 * 24 * 60)
    throw ShiftError("invalid", "报名截止时间不对 / the sign-up cut-off is wrong");
}

}  // namespace

void Shifts::load_templates(const std::vector<ShiftTemplate>& templates) {
  for (const auto& t : templates) {
    check_template(t);
    if (!post(t.post_code))
      throw ShiftError("not_found", "模板 " + t.code + " 的岗位 " + t.post_code + " 不存在 / template " + t.code +
                                        ": no post " + t.post_code);
  }
  const auto now = now_ms();
  storage_.write_sync([&](Session& s) {
    std::string codes;
    std::vector<Value> params;
    for (const auto& t : templates) {
      // A template whose days or times changed: its future shifts nobody signed up for go (the new
      // ones are made next); shifts with sign-ups stay for an officer to handle.
      const auto old =
          s.query("SELECT id, weekdays, start_minute, end_minute FROM vol_templates WHERE code = ?", {t.code});
      if (!old.empty() && (old[0].text(1) != weekdays_text(t.weekdays) || old[0].integer(2) != t.start_minute ||
                           old[0].integer(3) != t.end_minute))
        s.execute(
            "UPDATE vol_shifts SET cancelled_at_ms = ? WHERE template_id = ? AND start_ms > ? AND cancelled_at_ms IS "
            "NULL AND NOT EXISTS (SELECT 1 FROM vol_signups g WHERE g.shift_id = vol_shifts.id AND g.status = "
            "'signed')",
            {now, old[0].integer(0), now});
      s.execute(
          "INSERT INTO vol_templates (code, post_id, weekdays, start_minute, end_minute, capacity, cutoff_minutes, "
          "active) VALUES (?, (SELECT id FROM vol_posts WHERE code = ?), ?, ?, ?, ?, ?, 1) ON CONFLICT (code) DO "
          "UPDATE SET post_id = excluded.post_id, weekdays = excluded.weekdays, start_minute = "
          "excluded.start_minute, end_minute = excluded.end_minute, capacity = excluded.capacity, cutoff_minutes = "
          "excluded.cutoff_minutes, active = 1",
          {t.code, t.post_code, weekdays_text(t.weekdays), std::int64_t{t.start_minute}, std::int64_t{t.end_minute},
           std::int64_t{t.capacity}, std::int64_t{t.cutoff_minutes}});
      codes += codes.empty() ? "?" : ", ?";
      params.emplace_back(t.code);
    }
    // Config templates no longer in the config make no new shifts (those made stay).
    s.execute("UPDATE vol_templates SET active = 0 WHERE code IS NOT NULL" +
                  (codes.empty() ? std::string() : " AND code NOT IN (" + codes + ")"),
              params);
  });
}

ShiftTemplate Shifts::add_template(ShiftTemplate t) {
  check_template(t);
  if (!post(t.post_code)) throw ShiftError("not_found", "没有岗位 " + t.post_code + " / no post " + t.post_code);
  t.id = storage_.write([&](Session& s) {
    s.execute(
        "INSERT INTO vol_templates (post_id, weekdays, start_minute, end_minute, capacity, cutoff_minutes) VALUES "
        "((SELECT id FROM vol_posts WHERE code = ?), ?, ?, ?, ?, ?)",
        {t.post_code, weekdays_text(t.weekdays), std::int64_t{t.start_minute}, std::int64_t{t.end_minute},
         std::int64_t{t.capacity}, std::int64_t{t.cutoff_minutes}});
    return s.last_insert_id();
  });
  t.code.clear();
  t.active = true;
  materialise();
  return t;
}

std::vector<ShiftTemplate> Shifts::templates() {
  return storage_.read([&](Session& s) {
    std::vector<ShiftTemplate> out;
    for (const Row& r : s.query(
             "SELECT t.id, COALESCE(t.code, ''), p.code, t.weekdays, t.start_minute, t.end_minute, t.capacity, "
             "t.cutoff_minutes, t.active FROM vol_templates t JOIN vol_posts p ON p.id = t.post_id ORDER BY t.id")) {
      ShiftTemplate t;
      t.id = r.integer(0);
      t.code = r.text(1);
      t.post_code = r.text(2);
      t.weekdays = weekdays_of(r.text(3));
      t.start_minute = static_cast<int>(r.integer(4));
      t.end_minute = static_cast<int>(r.integer(5));
      t.capacity = static_cast<int>(r.integer(6));
      t.cutoff_minutes = static_cast<int>(r.integer(7));
      t.active = r.integer(8) != 0;
      out.push_back(std::move(t));
    }
    return out;
  });
}

bool Shifts::deactivate_template(std::int64_t id) {
  return storage_.write(
      [&](Session& s) { return s.execute("UPDATE vol_templates SET active = 0 WHERE id = ?", {id}) > 0; });
}

int Shifts::materialise() {
  using namespace std::chrono;
  const auto now = now_ms();
  const auto off = options_.utc_offset_s * 1000;
  const std::int64_t today = (now + off) / kDay * kDay;  // village midnight, as if it were UTC
  struct Want {
    std::int64_t template_id, post_id, start, end, cutoff;
    int capacity;
  };
  std::vector<Want> wanted;
  for (const auto& t : templates()) {
    if (!t.active) continue;
    const auto p = post(t.post_code);
    if (!p) continue;
    for (int d = 0; d <= options_.horizon_days; ++d) {
      const std::int64_t midnight = today + d * kDay;
      const int iso = static_cast<int>(weekday{sys_days{days{midnight / kDay}}}.iso_encoding());
      if (std::find(t.weekdays.begin(), t.weekdays.end(), iso) == t.weekdays.end()) continue;
      const std::int64_t start = midnight + t.start_minute * kMinute - off;
      if (start <= now) continue;
      wanted.push_back({t.id, p->id, start, midnight + t.end_minute * kMinute - off, start - t.cutoff_minutes * kMinute,
                        t.capacity});
    }
  }
  const int made = storage_.write([&](Session& s) {
    int n = 0;
    for (const auto& w : wanted)
      n += static_cast<int>(s.execute(
          "INSERT OR IGNORE INTO vol_shifts (post_id, start_ms, end_ms, capacity, signup_cutoff_ms, template_id) "
          "VALUES (?, ?, ?, ?, ?, ?)",
          {w.post_id, w.start, w.end, std::int64_t{w.capacity}, w.cutoff, w.template_id}));
    return n;
  });
  // Jobs for every shift that has none yet: the new ones, and any whose jobs a crash lost
  // between the insert and here.
  const auto unscheduled = storage_.read([&](Session& s) {
    return shifts_of(s, "WHERE s.completion_job_id IS NULL AND s.cancelled_at_ms IS NULL AND s.completed_at_ms IS NULL",
                     {});
  });
  for (const auto& sh : unscheduled) schedule_jobs(sh);
  return made;
}

// ---------------------------------------------------------------------------------------------
// Shifts

void Shifts::schedule_jobs(const Shift& s) {
  using Clock = Scheduler::Clock;
  auto at = [](std::int64_t ms) { return Clock::time_point(std::chrono::milliseconds(ms)); };
  const auto now = now_ms();
  const auto off = options_.utc_offset_s * 1000;
  if (options_.evening_reminder_minute >= 0) {
    const std::int64_t day_before = (s.start_ms + off) / kDay * kDay - kDay;
    const std::int64_t evening = day_before + options_.evening_reminder_minute * kMinute - off;
    if (evening > now && evening < s.start_ms)
      scheduler_.schedule_at("volunteers.remind", at(evening), {{"shift_id", s.id}, {"kind", "evening"}},
                             Scheduler::Missed::skip);
  }
  if (options_.hour_reminder_minutes > 0) {
    const std::int64_t before = s.start_ms - options_.hour_reminder_minutes * kMinute;
    if (before > now)
      scheduler_.schedule_at("volunteers.remind", at(before), {{"shift_id", s.id}, {"kind", "hour"}},
                             Scheduler::Missed::skip);
  }
  const auto job =
      scheduler_.schedule_at("volunteers.complete", at(s.end_ms), {{"shift_id", s.id}}, Scheduler::Missed::fire_late);
  storage_.write_sync([&](Session& db) {
    db.execute("UPDATE vol_shifts SET completion_job_id = ? WHERE id = ?", {job, s.id});
  });
}

Shift Shifts::add_shift(const std::string& post_code, std::int64_t start_ms, std::int64_t end_ms, int capacity,
                        std::int64_t cutoff_ms) {
  const auto p = post(post_code);
  if (!p) throw ShiftError("not_found", "没有岗位 " + post_code + " / no post " + post_code);
  if (end_ms <= start_ms || end_ms - start_ms > kDay || capacity < 1 || capacity > 1000)
    throw ShiftError("invalid",
                     "时间或人数不对（一个班次最长 24 小时，1–1000 人） / the times or the capacity are "
                     "wrong (a shift is at most 24 hours, 1 to 1000 people)");
  if (start_ms <= now_ms()) throw ShiftError("invalid", "开始时间已过 / the start is in the past");
  if (start_ms > now_ms() + 730 * kDay) throw ShiftError("invalid", "最多提前两年 / at most two years ahead");
  if (cutoff_ms == 0 || cutoff_ms > start_ms) cutoff_ms = start_ms;
  const auto id = storage_.write([&](Session& s) {
    s.execute("INSERT INTO vol_shifts (post_id, start_ms, end_ms, capacity, signup_cutoff_ms) VALUES (?, ?, ?, ?, ?)",
              {p->id, start_ms, end_ms, std::int64_t{capacity}, cutoff_ms});
    return s.last_insert_id();
  });
  schedule_jobs(*shift(id));
  return *shift(id);
}

Shift Shifts::cancel_shift(std::int64_t shift_id) {
  const auto sh = shift(shift_id);
  if (!sh) throw ShiftError("not_found", "没有这个班次 / no such shift");
  if (sh->cancelled_at_ms == 0 && (sh->end_ms <= now_ms() || sh->completed_at_ms > 0))
    throw ShiftError("conflict", "班次已结束，不能取消 / the shift is over");
  // Cancelled again (a retry, or after a crash before everyone was told): the notices go again
  // with the same keys, so nobody is told twice and nobody is missed.
  std::vector<std::int64_t> people;
  storage_.write_sync([&](Session& s) {
    s.execute("UPDATE vol_shifts SET cancelled_at_ms = COALESCE(cancelled_at_ms, ?) WHERE id = ?",
              {now_ms(), shift_id});
    for (const Row& r :
         s.query("SELECT person_id FROM vol_signups WHERE shift_id = ? AND status = 'signed'", {shift_id}))
      people.push_back(r.integer(0));
  });
  for (auto person : people) {
    const auto p = directory_.person(person);
    const Lang lang = p ? p->lang : Lang::zh;
    const std::string text = lang == Lang::en ? "Shift cancelled: " + describe(*sh, lang) + ". No need to come."
                                              : "【值班取消】" + describe(*sh, lang) + " 已取消，不用到岗。";
    messenger_.send_to_person(
        person, text,
        {Priority::reply, false, "volunteers:cancelled:" + std::to_string(shift_id) + ":" + std::to_string(person)});
  }
  return *shift(shift_id);
}

// ---------------------------------------------------------------------------------------------
// Sign-ups, swaps, check-in

// No-shows within the window after the last clearing, and until when they suspend sign-ups.
Record Shifts::record_in(Session& s, std::int64_t person_id) {
  const auto now = now_ms();
  const ShiftsOptions& o = options_;
  Record rec;
  const auto cleared = s.query("SELECT no_shows_cleared_at_ms FROM vol_people WHERE person_id = ?", {person_id});
  const std::int64_t cleared_at = cleared.empty() ? 0 : cleared[0].integer(0);
  const auto r = s.query(
      "SELECT SUM(g.status = 'completed'), SUM(g.status = 'no_show'), "
      "SUM(g.status = 'no_show' AND s.end_ms > ? AND s.end_ms > ?), "
      "MAX(CASE WHEN g.status = 'no_show' AND s.end_ms > ? AND s.end_ms > ? THEN s.end_ms END), "
      "SUM(CASE WHEN g.status = 'completed' THEN s.end_ms - s.start_ms ELSE 0 END) "
      "FROM vol_signups g JOIN vol_shifts s ON s.id = g.shift_id WHERE g.person_id = ?",
      {now - o.no_show_window_days * kDay, cleared_at, now - o.no_show_window_days * kDay, cleared_at, person_id});
  rec.completed = r[0].integer(0);
  rec.no_shows = r[0].integer(1);
  rec.counted_no_shows = r[0].integer(2);
  rec.hours = static_cast<double>(r[0].integer(4)) / 3600000.0;
  if (o.no_show_limit > 0 && rec.counted_no_shows >= o.no_show_limit) {
    const std::int64_t until = r[0].integer(3) + o.suspension_days * kDay;
    if (until > now) rec.suspended_until_ms = until;
  }
  return rec;
}

std::optional<Shift> Shifts::usable(std::int64_t shift_id) {
  auto sh = shift(shift_id);
  if (!sh)
    throw ShiftError("not_found",
                     "没有第 " + std::to_string(shift_id) + " 号班次 / no shift " + std::to_string(shift_id));
  if (sh->cancelled_at_ms > 0) throw ShiftError("conflict", "这个班次已取消 / the shift is cancelled");
  return sh;
}

void Shifts::check_eligible(Session& s, const Shift& shift, const Person& person, const std::string& required_role) {
  if (!required_role.empty() && !person.has_role(required_role))
    throw ShiftError("forbidden",
                     shift.post_name + " 需要 " + required_role + " 身份 / this post needs the role " + required_role);
  const Record rec = record_in(s, person.id);
  if (rec.suspended_until_ms > 0) {
    const std::string until = plugin_support::local_time(rec.suspended_until_ms, options_.utc_offset_s).substr(0, 10);
    throw ShiftError("forbidden", "您近 " + std::to_string(options_.no_show_window_days) + " 天有 " +
                                      std::to_string(rec.counted_no_shows) + " 次报名后未到岗，" + until +
                                      " 前暂停报名 / " + std::to_string(rec.counted_no_shows) +
                                      " no-shows: you cannot sign up before " + until);
  }
  const auto clash = s.query(
      "SELECT s.id FROM vol_signups g JOIN vol_shifts s ON s.id = g.shift_id WHERE g.person_id = ? AND g.status = "
      "'signed' AND s.cancelled_at_ms IS NULL AND s.id != ? AND s.start_ms < ? AND s.end_ms > ? LIMIT 1",
      {person.id, shift.id, shift.end_ms, shift.start_ms});
  if (!clash.empty())
    throw ShiftError("conflict", "这个时间您已有第 " + clash[0].text(0) + " 号班次 / you are on shift " +
                                     clash[0].text(0) + " at that time");
  const auto away =
      s.query("SELECT reason FROM vol_unavailable WHERE person_id = ? AND from_ms < ? AND to_ms > ? LIMIT 1",
              {person.id, shift.end_ms, shift.start_ms});
  if (!away.empty()) throw ShiftError("conflict", "您登记了这段时间不能值班 / you are marked unavailable at that time");
}

Shift Shifts::sign_up(std::int64_t shift_id, const Person& person, bool officer) {
  const auto sh = usable(shift_id);
  const auto p = post(sh->post_code);
  const auto now = now_ms();
  if (now >= (officer ? sh->start_ms : sh->signup_cutoff_ms))
    throw ShiftError("conflict", "报名已截止 / sign-ups for this shift are closed");
  // Counted and inserted in one write: the single writer makes the last place go to one person.
  const std::string outcome = storage_.write([&](Session& s) -> std::string {
    if (!open_in(s, shift_id)) return "cancelled";
    auto mine = s.query("SELECT status FROM vol_signups WHERE shift_id = ? AND person_id = ?", {shift_id, person.id});
    if (!mine.empty() && mine[0].text(0) == "signed") return "already";
    check_eligible(s, *sh, person, p ? p->required_role : std::string());
    const auto taken = s.query("SELECT COUNT(*) FROM vol_signups WHERE shift_id = ? AND status = 'signed'", {shift_id})
                           .at(0)
                           .integer(0);
    if (taken >= sh->capacity) return "full";
    s.execute(
        "INSERT INTO vol_signups (shift_id, person_id, status, signed_at_ms) VALUES (?, ?, 'signed', ?) ON CONFLICT "
        "(shift_id, person_id) DO UPDATE SET status = 'signed', signed_at_ms = excluded.signed_at_ms, "
        "checked_in_at_ms = NULL, offered_at_ms = NULL, swapped_to = NULL",
        {shift_id, person.id, now});
    return "ok";
  });
  if (outcome == "full") {
    const std::string id = std::to_string(shift_id);
    if (sh->offered > 0)
      throw ShiftError("conflict", "这个班次已经报满了，但有人换班：发送「接班 " + id +
                                       "」接替 / the shift is full, "
                                       "but a place is offered: send \"take " +
                                       id + "\"");
    throw ShiftError("conflict", "这个班次已经报满了 / the shift is full");
  }
  if (outcome == "already") throw ShiftError("conflict", "您已经报名了这个班次 / you are signed up already");
  if (outcome == "cancelled") throw ShiftError("conflict", "这个班次已取消 / the shift is cancelled");
  return *shift(shift_id);
}

void Shifts::cancel(std::int64_t shift_id, const Person& person, bool officer) {
  const auto sh = shift(shift_id);
  if (!sh) throw ShiftError("not_found", "没有这个班次 / no such shift");
  if (officer && now_ms() >= sh->start_ms) throw ShiftError("conflict", "班次已开始 / the shift has started");
  if (!officer && now_ms() >= sh->signup_cutoff_ms)
    throw ShiftError("conflict", "已过取消期限；不能来请发送「换班 " + std::to_string(shift_id) +
                                     "」找人接班 / too late to cancel; send \"swap " + std::to_string(shift_id) +
                                     "\" to offer your place");
  const bool changed = storage_.write([&](Session& s) {
    return s.execute(
               "UPDATE vol_signups SET status = 'cancelled', offered_at_ms = NULL WHERE shift_id = ? AND person_id = ? "
               "AND status = 'signed'",
               {shift_id, person.id}) > 0;
  });
  if (!changed) throw ShiftError("not_found", "您没有报名这个班次 / you are not signed up for it");
}

Shift Shifts::offer(std::int64_t shift_id, const Person& person) {
  const auto sh = usable(shift_id);
  const auto now = now_ms();
  if (now >= sh->start_ms) throw ShiftError("conflict", "班次已开始，不能换班 / the shift has started");
  const std::string outcome = storage_.write([&](Session& s) -> std::string {
    const auto mine = s.query(
        "SELECT offered_at_ms IS NOT NULL FROM vol_signups WHERE shift_id = ? AND person_id = ? AND status = "
        "'signed'",
        {shift_id, person.id});
    if (mine.empty()) return "not_signed";
    if (mine[0].integer(0) != 0) return "already";
    s.execute("UPDATE vol_signups SET offered_at_ms = ? WHERE shift_id = ? AND person_id = ?",
              {now, shift_id, person.id});
    return "ok";
  });
  if (outcome == "not_signed") throw ShiftError("not_found", "您没有报名这个班次 / you are not signed up for it");
  if (outcome == "already") throw ShiftError("conflict", "您已经发起了换班 / your place is offered already");
  return *shift(shift_id);
}

void Shifts::withdraw_offer(std::int64_t shift_id, const Person& person) {
  const bool changed = storage_.write([&](Session& s) {
    return s.execute(
               "UPDATE vol_signups SET offered_at_ms = NULL WHERE shift_id = ? AND person_id = ? AND status = "
               "'signed' AND offered_at_ms IS NOT NULL",
               {shift_id, person.id}) > 0;
  });
  if (!changed) throw ShiftError("not_found", "您没有在这个班次发起换班 / you offered no place on this shift");
}

Shift Shifts::take(std::int64_t shift_id, const Person& person) {
  const auto sh = usable(shift_id);
  const auto now = now_ms();
  if (now >= sh->start_ms) throw ShiftError("conflict", "班次已开始 / the shift has started");
  const auto p = post(sh->post_code);
  // The offer found, the taker checked and the place moved in one write: two people taking the
  // last offered place at once leave one of them on the shift.
  std::int64_t from = 0;
  const std::string outcome = storage_.write([&](Session& s) -> std::string {
    const auto mine = s.query("SELECT 1 FROM vol_signups WHERE shift_id = ? AND person_id = ? AND status = 'signed'",
                              {shift_id, person.id});
    if (!mine.empty()) return "already";
    const auto offered = s.query(
        "SELECT person_id FROM vol_signups WHERE shift_id = ? AND status = 'signed' AND offered_at_ms IS NOT NULL "
        "ORDER BY offered_at_ms, person_id LIMIT 1",
        {shift_id});
    if (offered.empty()) return "none";
    check_eligible(s, *sh, person, p ? p->required_role : std::string());
    from = offered[0].integer(0);
    s.execute("UPDATE vol_signups SET status = 'swapped', swapped_to = ? WHERE shift_id = ? AND person_id = ?",
              {person.id, shift_id, from});
    s.execute(
        "INSERT INTO vol_signups (shift_id, person_id, status, signed_at_ms) VALUES (?, ?, 'signed', ?) ON CONFLICT "
        "(shift_id, person_id) DO UPDATE SET status = 'signed', signed_at_ms = excluded.signed_at_ms, "
        "checked_in_at_ms = NULL, offered_at_ms = NULL, swapped_to = NULL",
        {shift_id, person.id, now});
    return "ok";
  });
  if (outcome == "already") throw ShiftError("conflict", "您已经在这个班次上 / you are on this shift already");
  if (outcome == "none") throw ShiftError("not_found", "这个班次没有人换班 / nobody offered a place on this shift");
  if (outcome == "cancelled") throw ShiftError("conflict", "这个班次已取消 / the shift is cancelled");
  const auto giver = directory_.person(from);
  const Lang lang = giver ? giver->lang : Lang::zh;
  messenger_.send_to_person(
      from,
      lang == Lang::en ? person.name + " took your place: " + describe(*sh, lang) + "."
                       : "【换班成功】" + describe(*sh, lang) + " 已由 " + person.name + " 接班，您不用到岗。",
      {Priority::reply, false,
       "volunteers:swap:" + std::to_string(shift_id) + ":" + std::to_string(from) + ":" + std::to_string(person.id)});
  return *shift(shift_id);
}

Shift Shifts::check_in(const Person& person) {
  const auto now = now_ms();
  auto rows = storage_.read([&](Session& s) {
    return shifts_of(s,
                     "JOIN vol_signups g ON g.shift_id = s.id WHERE g.person_id = ? AND g.status = 'signed' AND "
                     "s.cancelled_at_ms IS NULL AND s.start_ms <= ? AND s.end_ms > ? ORDER BY s.start_ms LIMIT 1",
                     {person.id, now, now});
  });
  if (rows.empty()) throw ShiftError("not_found", "您现在没有正在进行的班次 / you are on no shift right now");
  const Shift sh = rows[0];
  // Still signed up and the shift not over, checked in the write itself: the completion job
  // cannot have turned it into a no-show in between.
  const bool recorded = storage_.write([&](Session& s) {
    return s.execute(
               "UPDATE vol_signups SET checked_in_at_ms = COALESCE(checked_in_at_ms, ?) WHERE shift_id = ? AND "
               "person_id = ? AND status = 'signed' AND EXISTS (SELECT 1 FROM vol_shifts WHERE id = ? AND end_ms > ? "
               "AND completed_at_ms IS NULL AND cancelled_at_ms IS NULL)",
               {now, sh.id, person.id, sh.id, now}) > 0;
  });
  if (!recorded) throw ShiftError("not_found", "您现在没有正在进行的班次 / you are on no shift right now");
  return sh;
}

void Shifts::complete(std::int64_t shift_id) {
  const auto sh = shift(shift_id);
  if (!sh || sh->cancelled_at_ms > 0 || now_ms() < sh->end_ms) return;
  // The marks in one write, decided there: a check-in that committed before it counts.
  storage_.write_sync([&](Session& s) {
    s.execute(
        "UPDATE vol_signups SET status = CASE WHEN checked_in_at_ms IS NOT NULL THEN 'completed' ELSE 'no_show' END "
        "WHERE shift_id = ? AND status = 'signed'",
        {shift_id});
    s.execute("UPDATE vol_shifts SET completed_at_ms = COALESCE(completed_at_ms, ?) WHERE id = ?",
              {now_ms(), shift_id});
  });
  // Then the points of everyone completed, each with its key (the points ledger takes a key
  // once): the job run again — after a crash here, or twice — awards nothing twice and misses
  // nobody.
  const auto p = post(sh->post_code);
  if (!p || p->points_rule.empty()) return;
  const auto done = storage_.read([&](Session& s) {
    return s.query("SELECT person_id FROM vol_signups WHERE shift_id = ? AND status = 'completed' ORDER BY person_id",
                   {shift_id});
  });
  for (const Row& r : done) {
    const auto person = directory_.person(r.integer(0));
    if (!person || person->household_id == 0) continue;
    events_.publish("points.award", {{"household_id", person->household_id},
                                     {"rule_code", p->points_rule},
                                     {"points", p->points},
                                     {"reason", p->name + "值班"},
                                     {"source", "volunteers"},
                                     {"idempotency_key", "volunteers:shift:" + std::to_string(shift_id) + ":" +
                                                             std::to_string(person->id)}});
  }
}

void Shifts::remind(std::int64_t shift_id, const std::string& kind) {
  const auto sh = shift(shift_id);
  if (!sh || sh->cancelled_at_ms > 0 || sh->completed_at_ms > 0 || now_ms() >= sh->start_ms) return;
  const auto people = storage_.read([&](Session& s) {
    return s.query("SELECT person_id FROM vol_signups WHERE shift_id = ? AND status = 'signed' ORDER BY person_id",
                   {shift_id});
  });
  const bool hour = kind == "hour";
  const std::string id = std::to_string(shift_id);
  for (const Row& r : people) {
    const auto p = directory_.person(r.integer(0));
    if (!p) continue;
    std::string text;
    if (p->lang == Lang::en)
      text = hour ? "Reminder: your shift starts soon — " + describe(*sh, Lang::en) + ". Send \"checkin\" when there."
                  : "Reminder: your shift tomorrow — " + describe(*sh, Lang::en) + ". Cannot come? Send \"swap " + id +
                        "\".";
    else
      text = hour ? "【值班提醒】" + describe(*sh, Lang::zh) + " 即将开始，到岗后请发送「签到」。"
                  : "【值班提醒】明天 " + describe(*sh, Lang::zh) + "。不能来请发送「换班 " + id + "」找人接班。";
    // The hour-before reminder is a reply-class message: quiet hours would hold it past the start.
    messenger_.send_to_person(p->id, text,
                              {hour ? Priority::reply : Priority::notice, false,
                               "volunteers:remind:" + id + ":" + kind + ":" + std::to_string(p->id)});
  }
}

// ---------------------------------------------------------------------------------------------
// No-shows and unavailability

Record Shifts::record(std::int64_t person_id) {
  return storage_.read([&](Session& s) { return record_in(s, person_id); });
}

void Shifts::clear_no_shows(std::int64_t person_id) {
  storage_.write_sync([&](Session& s) {
    s.execute(
        "INSERT INTO vol_people (person_id, no_shows_cleared_at_ms) VALUES (?, ?) ON CONFLICT (person_id) DO UPDATE "
        "SET no_shows_cleared_at_ms = excluded.no_shows_cleared_at_ms",
        {person_id, now_ms()});
  });
}

Unavailability Shifts::add_unavailability(std::int64_t person_id, std::int64_t from_ms, std::int64_t to_ms,
                                          const std::string& reason) {
  if (!directory_.person(person_id)) throw ShiftError("not_found", "没有这个人 / no such person");
  if (to_ms <= from_ms || to_ms - from_ms > 366 * kDay)
    throw ShiftError("invalid",
                     "时间段不对（结束晚于开始，最长一年） / the period is wrong (end after start, at most a "
                     "year)");
  if (reason.size() > 500) throw ShiftError("invalid", "原因太长 / the reason is too long");
  Unavailability u{0, person_id, from_ms, to_ms, reason};
  u.id = storage_.write([&](Session& s) {
    s.execute("INSERT INTO vol_unavailable (person_id, from_ms, to_ms, reason, created_at_ms) VALUES (?, ?, ?, ?, ?)",
              {person_id, from_ms, to_ms, reason, now_ms()});
    return s.last_insert_id();
  });
  return u;
}

std::vector<Unavailability> Shifts::unavailability(std::int64_t person_id) {
  return storage_.read([&](Session& s) {
    std::vector<Unavailability> out;
    for (const Row& r : s.query("SELECT id, person_id, from_ms, to_ms, reason FROM vol_unavailable WHERE person_id = "
                                "? AND to_ms > ? ORDER BY from_ms",
                                {person_id, now_ms()}))
      out.push_back({r.integer(0), r.integer(1), r.integer(2), r.integer(3), r.text(4)});
    return out;
  });
}

bool Shifts::remove_unavailability(std::int64_t id) {
  return storage_.write([&](Session& s) { return s.execute("DELETE FROM vol_unavailable WHERE id = ?", {id}) > 0; });
}

// ---------------------------------------------------------------------------------------------
// Lists and descriptions

std::vector<Shift> Shifts::select(const std::string& where, const std::vector<Value>& params) {
  return storage_.read([&](Session& s) { return shifts_of(s, where, params); });
}

std::optional<Shift> Shifts::shift(std::int64_t id) {
  auto rows = storage_.read([&](Session& s) { return shifts_of(s, "WHERE s.id = ?", {id}); });
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

std::vector<Shift> Shifts::shifts_between(std::int64_t from_ms, std::int64_t to_ms, const std::string& post_code) {
  return storage_.read([&](Session& s) {
    if (post_code.empty())
      return shifts_of(s, "WHERE s.start_ms >= ? AND s.start_ms < ? ORDER BY s.start_ms, s.id LIMIT 5000",
                       {from_ms, to_ms});
    return shifts_of(s, "WHERE s.start_ms >= ? AND s.start_ms < ? AND p.code = ? ORDER BY s.start_ms, s.id LIMIT 5000",
                     {from_ms, to_ms, post_code});
  });
}

std::vector<SignUp> Shifts::signups(std::int64_t shift_id) {
  auto rows = storage_.read([&](Session& s) {
    return s.query(
        "SELECT person_id, status, signed_at_ms, COALESCE(checked_in_at_ms, 0), COALESCE(offered_at_ms, 0), "
        "COALESCE(swapped_to, 0) FROM vol_signups WHERE shift_id = ? ORDER BY signed_at_ms, person_id",
        {shift_id});
  });
  std::vector<std::int64_t> ids;
  for (const Row& r : rows) ids.push_back(r.integer(0));
  std::map<std::int64_t, std::string> names;
  for (const auto& p : directory_.persons(ids)) names[p.id] = p.name;
  std::vector<SignUp> out;
  for (const Row& r : rows)
    out.push_back(
        {r.integer(0), names[r.integer(0)], r.text(1), r.integer(2), r.integer(3), r.integer(4), r.integer(5)});
  return out;
}

std::vector<Shift> Shifts::upcoming_of(std::int64_t person_id) {
  return storage_.read([&](Session& s) {
    return shifts_of(s,
                     "JOIN vol_signups g ON g.shift_id = s.id WHERE g.person_id = ? AND g.status = 'signed' AND "
                     "s.cancelled_at_ms IS NULL AND s.end_ms > ? ORDER BY s.start_ms LIMIT 50",
                     {person_id, now_ms()});
  });
}

std::vector<Shift> Shifts::open_shifts(int days) {
  const auto now = now_ms();
  auto all = storage_.read([&](Session& s) {
    return shifts_of(s,
                     "WHERE s.cancelled_at_ms IS NULL AND s.start_ms > ? AND s.start_ms < ? ORDER BY s.start_ms, "
                     "s.id LIMIT 500",
                     {now, now + days * kDay});
  });
  std::vector<Shift> out;
  for (auto& s : all)
    if ((now < s.signup_cutoff_ms && s.signed_up < s.capacity) || s.offered > 0) out.push_back(std::move(s));
  return out;
}

std::string Shifts::describe(const Shift& s, Lang lang) const {
  using namespace std::chrono;
  const std::string start = plugin_support::local_time(s.start_ms, options_.utc_offset_s);
  const std::string end = plugin_support::local_time(s.end_ms, options_.utc_offset_s);
  const auto day = sys_days{days{(s.start_ms + options_.utc_offset_s * 1000) / kDay}};
  const unsigned iso = weekday{day}.iso_encoding();
  static const char* const zh[] = {"", "周一", "周二", "周三", "周四", "周五", "周六", "周日"};
  static const char* const en[] = {"", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  const std::string when =
      start.substr(5, 5) +
      (lang == Lang::en ? std::string(" (") + en[iso] + ") " : std::string("（") + zh[iso] + "）") +
      start.substr(11, 5) + "–" + end.substr(11, 5);
  const std::string place = s.place.empty() ? std::string() : " " + s.place;
  if (lang == Lang::en) return "#" + std::to_string(s.id) + " " + s.post_name + " " + when + place;
  return "第 " + std::to_string(s.id) + " 号 " + s.post_name + " " + when + place;
}

}  // namespace villagebot::volunteers
