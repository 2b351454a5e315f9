#include "tickets.hpp"

#include <chrono>
#include <cstdio>

#include "villagebot/text.hpp"

namespace villagebot::opinions {

const std::vector<Migration>& opinions_migrations();  // generated from schema/opinions_NNN.sql

namespace {

using nlohmann::json;

constexpr std::size_t kMaxText = 2000;  // bytes

constexpr const char* kColumns =
    "id, number, kind, category, text, anonymous, person_id, COALESCE(org_unit_id, 0), COALESCE(assigned_unit_id, 0), "
    "COALESCE(assignee_person_id, 0), level, status, sla_due_ms, COALESCE(sla_job_id, 0), created_at_ms, "
    "COALESCE(answer, ''), COALESCE(answered_by, ''), COALESCE(answered_by_person_id, 0), COALESCE(answered_at_ms, 0), "
    "COALESCE(rating, ''), COALESCE(rated_at_ms, 0)";

Ticket from_row(const Row& r) {
  Ticket t;
  t.id = r.integer(0);
  t.number = r.text(1);
  t.kind = r.text(2);
  t.category = r.text(3);
  t.text = r.text(4);
  t.anonymous = r.integer(5) != 0;
  t.person_id = r.integer(6);
  t.org_unit_id = r.integer(7);
  t.assigned_unit_id = r.integer(8);
  t.assignee_person_id = r.integer(9);
  t.level = static_cast<int>(r.integer(10));
  t.status = r.text(11);
  t.sla_due_ms = r.integer(12);
  t.sla_job_id = r.integer(13);
  t.created_at_ms = r.integer(14);
  t.answer = r.text(15);
  t.answered_by = r.text(16);
  t.answered_by_person_id = r.integer(17);
  t.answered_at_ms = r.integer(18);
  t.rating = r.text(19);
  t.rated_at_ms = r.integer(20);
  return t;
}

}  // namespace

Tickets::Tickets(Storage& storage, Messenger& messenger, Scheduler& scheduler, Directory& directory,
                 TicketsOptions options)
    : storage_(storage),
      messenger_(messenger),
      scheduler_(scheduler),
      directory_(directory),
      options_(std::move(options)) {}

const std::vector<Migration>& Tickets::migrations() {
  return opinions_migrations();
}

std::int64_t Tickets::now_ms() const {
  return plugin_support::now_ms(scheduler_);
}

std::string Tickets::local_time(std::int64_t ms) const {
  return plugin_support::local_time(ms, options_.utc_offset_s);
}

std::string Tickets::category_of(const std::string& text) const {
  for (const auto& c : options_.categories)
    for (const auto& k : c.keywords)
      if (!k.empty() && text.find(k) != std::string::npos) return c.name;
  return "其他";
}

std::int64_t Tickets::sla_hours(const std::string& category) const {
  for (const auto& c : options_.categories)
    if (c.name == category) return c.sla_hours;
  return options_.default_sla_hours;
}

std::pair<std::int64_t, std::int64_t> Tickets::responsible_from(std::int64_t unit_id, std::int64_t exclude_person) {
  for (auto unit = unit_id > 0 ? directory_.org_unit(unit_id) : directory_.org_unit_by_path(""); unit;
       unit = unit->parent_id > 0 ? directory_.org_unit(unit->parent_id) : std::nullopt)
    if (unit->responsible_person_id > 0 && unit->responsible_person_id != exclude_person)
      return {unit->id, unit->responsible_person_id};
  return {0, 0};
}

void Tickets::event(Session& s, std::int64_t ticket_id, const std::string& what, const std::string& detail) {
  s.execute("INSERT INTO op_ticket_events (ticket_id, at_ms, event, detail) VALUES (?, ?, ?, ?)",
            {ticket_id, now_ms(), what, detail});
}

std::string Tickets::describe(const Ticket& t, bool show_name) {
  std::string who = "匿名村民";
  if (!t.anonymous || show_name) {
    const auto p = directory_.person(t.person_id);
    who = p ? p->name + "（" + (p->household_code.empty() ? "" : p->household_code + "，") + p->phone + "）" : "村民";
  }
  std::string unit;
  if (auto u = directory_.org_unit(t.org_unit_id)) unit = u->path.empty() ? "" : u->path + " ";
  return t.number + "【" + t.category + "】" + unit + who + "：" + t.text;
}

void Tickets::schedule_sla(const Ticket& t) {
  const auto job =
      scheduler_.schedule_at("opinions.sla", Scheduler::Clock::time_point(std::chrono::milliseconds(t.sla_due_ms)),
                             {{"ticket_id", t.id}, {"level", t.level}}, Scheduler::Missed::fire_late);
  storage_.write_sync([&](Session& s) { s.execute("UPDATE op_tickets SET sla_job_id = ? WHERE id = ?", {job, t.id}); });
}

Ticket Tickets::file(const Person& sender, const std::string& kind, const std::string& raw, bool anonymous) {
  const std::string body = text::trim(raw);
  if (body.empty()) throw TicketError("invalid", "意见内容不能为空 / the opinion is empty");
  if (!text::valid_utf8(body) || body.size() > kMaxText)
    throw TicketError("invalid", "意见太长或不是有效文字 / the opinion is too long or not UTF-8");
  const std::string category = category_of(body);
  const auto [unit, assignee] = responsible_from(sender.org_unit_id, sender.id);
  const auto now = now_ms();
  const int year = std::stoi(local_time(now).substr(0, 4));
  const auto due = now + sla_hours(category) * 3600 * 1000;
  const std::int64_t id = storage_.write([&](Session& s) {
    const auto seq = s.query("SELECT COALESCE(MAX(seq), 0) + 1 FROM op_tickets WHERE year = ?", {std::int64_t{year}})
                         .at(0)
                         .integer(0);
    char number[32];
    std::snprintf(number, sizeof number, "YJ-%d-%04lld", year, static_cast<long long>(seq));
    s.execute(
        "INSERT INTO op_tickets (number, year, seq, kind, category, text, anonymous, person_id, org_unit_id, "
        "assigned_unit_id, assignee_person_id, sla_due_ms, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?)",
        {std::string(number), std::int64_t{year}, seq, kind, category, body, std::int64_t{anonymous ? 1 : 0}, sender.id,
         sender.org_unit_id > 0 ? Value{sender.org_unit_id} : Value{nullptr}, unit > 0 ? Value{unit} : Value{nullptr},
         assignee > 0 ? Value{assignee} : Value{nullptr}, due, now});
    const auto ticket_id = s.last_insert_id();
    event(s, ticket_id, "filed", anonymous ? "匿名" : "");
    if (assignee > 0) event(s, ticket_id, "assigned", std::to_string(assignee));
    return ticket_id;
  });
  Ticket t = *storage_.read([&](Session& s) -> std::optional<Ticket> {
    auto rows = s.query(std::string("SELECT ") + kColumns + " FROM op_tickets WHERE id = ?", {id});
    if (rows.empty()) return std::nullopt;
    return from_row(rows[0]);
  });
  schedule_sla(t);
  if (assignee > 0) {
    SendOptions o;
    o.idempotency_key = "opinions:" + t.number + ":assigned:0";
    messenger_.send_to_person(assignee,
                              "【村民意见】" + describe(t, false) + "\n请在 " + local_time(due) +
                                  " 前答复：发送「答复 " + t.number + " <答复内容>」",
                              o);
  }
  return t;
}

Ticket Tickets::answer(const std::string& number, const Person& by, const std::string& raw, bool any_handler) {
  const std::string body = text::trim(raw);
  if (body.empty() || !text::valid_utf8(body) || body.size() > kMaxText)
    throw TicketError("invalid", "答复内容为空或过长 / the answer is empty or too long");
  auto t = by_number(number);
  if (!t) throw TicketError("not_found", "没有编号为 " + number + " 的意见 / no ticket " + number);
  if (!any_handler && t->assignee_person_id != by.id)
    throw TicketError("forbidden", number + " 不是交给您处理的 / " + number + " is not assigned to you");
  const auto now = now_ms();
  const bool changed = storage_.write([&](Session& s) {
    if (s.execute("UPDATE op_tickets SET status = 'answered', answer = ?, answered_by = ?, answered_by_person_id = ?, "
                  "answered_at_ms = ? WHERE id = ? AND status = 'open'",
                  {body, by.name, by.id > 0 ? Value{by.id} : Value{nullptr}, now, t->id}) == 0)
      return false;
    event(s, t->id, "answered", by.name);
    return true;
  });
  if (!changed) throw TicketError("conflict", number + " 已经答复过了 / " + number + " is answered already");
  if (t->sla_job_id > 0) scheduler_.cancel(t->sla_job_id);
  SendOptions o;
  o.idempotency_key = "opinions:" + t->number + ":answer";
  messenger_.send_to_person(t->person_id,
                            "【意见答复】您的意见 " + t->number + "（" + t->category + "）：" + body + "\n——" +
                                by.name + "。请回复「满意」或「不满意」评价。",
                            o);
  return *by_number(number);
}

Ticket Tickets::rate(const Person& sender, const std::string& number, bool satisfied) {
  std::optional<Ticket> t;
  if (!number.empty()) {
    t = by_number(number);
    if (t && t->person_id != sender.id) t.reset();
  } else {
    for (const auto& mine : of_person(sender.id, 20))
      if (mine.status == "answered" && mine.rating.empty()) {
        t = mine;
        break;
      }
  }
  if (!t) throw TicketError("not_found", "没有可以评价的已答复意见 / no answered ticket of yours to rate");
  if (t->status != "answered")
    throw TicketError("conflict", t->number + " 还没有答复 / " + t->number + " is not answered yet");
  const std::string rating = satisfied ? "satisfied" : "unsatisfied";
  storage_.write_sync([&](Session& s) {
    s.execute("UPDATE op_tickets SET rating = ?, rated_at_ms = ? WHERE id = ?", {rating, now_ms(), t->id});
    event(s, t->id, "rated", rating);
  });
  return *by_number(t->number);
}

void Tickets::escalate(std::int64_t ticket_id, int level) {
  auto t = storage_.read([&](Session& s) -> std::optional<Ticket> {
    auto rows = s.query(std::string("SELECT ") + kColumns + " FROM op_tickets WHERE id = ?", {ticket_id});
    if (rows.empty()) return std::nullopt;
    return from_row(rows[0]);
  });
  // Answered meanwhile, or this level's job ran already (a stale or repeated job): nothing.
  if (!t || t->status != "open" || t->level != level) return;
  std::int64_t parent = 0;
  if (auto u = directory_.org_unit(t->assigned_unit_id)) parent = u->parent_id;
  const auto [unit, assignee] =
      parent > 0 ? responsible_from(parent, t->person_id) : std::pair<std::int64_t, std::int64_t>{0, 0};
  const auto now = now_ms();
  const auto due = now + sla_hours(t->category) * 3600 * 1000;
  const bool moved = storage_.write([&](Session& s) {
    if (unit == 0) {  // the top of the chain: recorded once, nobody further up
      if (s.execute("UPDATE op_tickets SET level = level + 1, sla_job_id = NULL WHERE id = ? AND level = ? AND "
                    "status = 'open'",
                    {ticket_id, std::int64_t{level}}) == 0)
        return false;
      event(s, ticket_id, "overdue", "已是最高一级");
      return false;
    }
    if (s.execute("UPDATE op_tickets SET level = level + 1, assigned_unit_id = ?, assignee_person_id = ?, "
                  "sla_due_ms = ?, sla_job_id = NULL WHERE id = ? AND level = ? AND status = 'open'",
                  {unit, assignee, due, ticket_id, std::int64_t{level}}) == 0)
      return false;
    event(s, ticket_id, "escalated", std::to_string(assignee));
    return true;
  });
  if (!moved) return;
  Ticket now_t = *by_number(t->number);
  SendOptions o;
  o.idempotency_key = "opinions:" + t->number + ":assigned:" + std::to_string(level + 1);
  messenger_.send_to_person(assignee,
                            "【意见逾期转办】" + describe(now_t, false) + "\n已超过时限未答复，转由您处理，请在 " +
                                local_time(due) + " 前答复：发送「答复 " + t->number + " <答复内容>」",
                            o);
  schedule_sla(now_t);
}

std::optional<Ticket> Tickets::by_number(const std::string& number) {
  // yj-2026-0042 as typed on a phone keyboard is YJ-2026-0042.
  std::string key = text::trim(number);
  for (auto& c : key)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  auto rows = storage_.read([&](Session& s) {
    return s.query(std::string("SELECT ") + kColumns + " FROM op_tickets WHERE number = ?", {key});
  });
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::vector<Ticket> Tickets::of_person(std::int64_t person_id, int limit) {
  return storage_.read([&](Session& s) {
    std::vector<Ticket> out;
    for (const Row& r :
         s.query(std::string("SELECT ") + kColumns + " FROM op_tickets WHERE person_id = ? ORDER BY id DESC LIMIT ?",
                 {person_id, std::int64_t{limit}}))
      out.push_back(from_row(r));
    return out;
  });
}

std::vector<Ticket> Tickets::list(const std::string& status, std::int64_t assignee, std::int64_t offset,
                                  std::int64_t limit, std::int64_t* total) {
  std::string where = " WHERE 1 = 1";
  std::vector<Value> params;
  if (!status.empty()) {
    where += " AND status = ?";
    params.emplace_back(status);
  }
  if (assignee > 0) {
    where += " AND assignee_person_id = ?";
    params.emplace_back(assignee);
  }
  return storage_.read([&](Session& s) {
    if (total != nullptr) *total = s.query("SELECT COUNT(*) FROM op_tickets" + where, params).at(0).integer(0);
    params.emplace_back(limit);
    params.emplace_back(offset);
    std::vector<Ticket> out;
    for (const Row& r :
         s.query(std::string("SELECT ") + kColumns + " FROM op_tickets" + where + " ORDER BY id DESC LIMIT ? OFFSET ?",
                 params))
      out.push_back(from_row(r));
    return out;
  });
}

json Tickets::satisfaction() {
  return storage_.read([&](Session& s) {
    auto group = [&](const char* column) {
      json out = json::array();
      for (const Row& r : s.query(std::string("SELECT COALESCE(") + column +
                                  ", 0), COUNT(*), SUM(status = 'answered'), SUM(rating = 'satisfied'), "
                                  "SUM(rating = 'unsatisfied') FROM op_tickets GROUP BY 1 ORDER BY 1")) {
        const auto rated = r.integer(3) + r.integer(4);
        out.push_back({{"id", r.integer(0)},
                       {"tickets", r.integer(1)},
                       {"answered", r.integer(2)},
                       {"satisfied", r.integer(3)},
                       {"unsatisfied", r.integer(4)},
                       {"satisfaction", rated > 0 ? json(static_cast<double>(r.integer(3)) / static_cast<double>(rated))
                                                  : json(nullptr)}});
      }
      return out;
    };
    return json{{"by_unit", group("org_unit_id")}, {"by_handler", group("answered_by_person_id")}};
  });
}

}  // namespace villagebot::opinions
