#include "shifts.hpp"

#include <chrono>

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

std::string ShiftError::in(Lang lang) const {
  const std::string both = what();
  const auto slash = both.find(" / ");
  if (slash == std::string::npos) return both;
  return lang == Lang::en ? both.substr(slash + 3) : both.substr(0, slash);
}

Shifts::Shifts(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events)
    : storage_(storage), scheduler_(scheduler), directory_(directory), events_(events) {}

const std::vector<Migration>& Shifts::migrations() {
  return volunteers_migrations();
}

std::int64_t Shifts::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(scheduler_.now().time_since_epoch()).count();
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
