#include "polls.hpp"

#include <chrono>
#include <cstdio>

#include "villagebot/text.hpp"

namespace villagebot::opinions {

namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, code, question, options, audience, per_household, anonymous, deadline_ms, status, COALESCE(close_job_id, 0), "
    "created_by, created_at_ms, COALESCE(closed_at_ms, 0), COALESCE(results, '')";

Poll from_row(const Row& r) {
  Poll p;
  p.id = r.integer(0);
  p.code = r.text(1);
  p.question = r.text(2);
  const json options = json::parse(r.text(3), nullptr, false);
  if (options.is_array())
    for (const auto& o : options)
      if (o.is_string()) p.options.push_back(o.get<std::string>());
  try {
    p.audience = audience_from_json(json::parse(r.text(4)));
  } catch (const std::exception&) {
    p.audience = Audience{};
  }
  p.per_household = r.integer(5) != 0;
  p.anonymous = r.integer(6) != 0;
  p.deadline_ms = r.integer(7);
  p.status = r.text(8);
  p.close_job_id = r.integer(9);
  p.created_by = r.text(10);
  p.created_at_ms = r.integer(11);
  p.closed_at_ms = r.integer(12);
  p.results = r.text(13).empty() ? json(nullptr) : json::parse(r.text(13), nullptr, false);
  return p;
}

}  // namespace

Polls::Polls(Storage& storage, Scheduler& scheduler, Directory& directory, EventBus& events, std::int64_t utc_offset_s)
    : storage_(storage), scheduler_(scheduler), directory_(directory), events_(events), utc_offset_s_(utc_offset_s) {
  load_index();
}

std::int64_t Polls::now_ms() const {
  return plugin_support::now_ms(scheduler_);
}

std::string Polls::local_time(std::int64_t ms) const {
  return plugin_support::local_time(ms, utc_offset_s_).substr(5);
}

void Polls::load_index() {
  std::map<std::string, Poll> open;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query(std::string("SELECT ") + kColumns + " FROM op_polls WHERE status = 'open'")) {
      Poll p = from_row(r);
      open.emplace(p.code, std::move(p));
    }
  });
  std::lock_guard lock(index_mutex_);
  open_polls_ = std::move(open);
  open_by_person_.clear();
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT m.person_id, p.id FROM op_poll_members m JOIN op_polls p ON p.id = m.poll_id "
                                "WHERE p.status = 'open' ORDER BY p.id"))
      open_by_person_[r.integer(0)] = r.integer(1);
  });
}

std::optional<std::int64_t> Polls::open_poll_of(std::int64_t person_id) const {
  std::lock_guard lock(index_mutex_);
  auto it = open_by_person_.find(person_id);
  if (it == open_by_person_.end()) return std::nullopt;
  return it->second;
}

Poll Polls::create(PollRequest r) {
  r.question = text::trim(r.question);
  if (r.question.empty() || !text::valid_utf8(r.question) || r.question.size() > 1000)
    throw TicketError("invalid", "问题不能为空或过长 / the question is empty or too long");
  if (r.options.size() < 2 || r.options.size() > 9)
    throw TicketError("invalid", "选项应有 2 到 9 个 / a poll needs 2 to 9 options");
  for (auto& o : r.options) {
    o = text::trim(o);
    if (o.empty() || !text::valid_utf8(o) || o.size() > 200)
      throw TicketError("invalid", "选项不能为空或过长 / an option is empty or too long");
  }
  if (r.audience.empty()) throw TicketError("invalid", "投票对象为空 / the audience is empty");
  if (r.deadline_ms <= now_ms() + 60 * 1000)
    throw TicketError("invalid", "截止时间至少在一分钟之后 / the deadline must be at least a minute ahead");
  const auto members = directory_.persons(directory_.resolve(r.audience));
  if (members.empty()) throw TicketError("invalid", "投票对象中没有登记的人 / nobody is registered in the audience");
  const auto now = now_ms();
  const std::int64_t id = storage_.write([&](Session& s) {
    s.execute(
        "INSERT INTO op_polls (code, question, options, audience, per_household, anonymous, deadline_ms, created_by, "
        "created_at_ms) VALUES ('', ?, ?, ?, ?, ?, ?, ?, ?)",
        {r.question, json(r.options).dump(), audience_to_json(r.audience).dump(), std::int64_t{r.per_household ? 1 : 0},
         std::int64_t{r.anonymous ? 1 : 0}, r.deadline_ms, r.created_by, now});
    const auto poll_id = s.last_insert_id();
    s.execute("UPDATE op_polls SET code = ? WHERE id = ?", {"P" + std::to_string(poll_id), poll_id});
    json rows = json::array();
    for (const auto& m : members) rows.push_back({m.id, m.household_id, m.org_unit_id});
    s.execute(
        "INSERT INTO op_poll_members (poll_id, person_id, household_id, org_unit_id) SELECT ?, json_extract(value, "
        "'$[0]'), NULLIF(json_extract(value, '$[1]'), 0), NULLIF(json_extract(value, '$[2]'), 0) FROM json_each(?)",
        {poll_id, rows.dump()});
    return poll_id;
  });
  const auto job = scheduler_.schedule_at("opinions.poll_close",
                                          Scheduler::Clock::time_point(std::chrono::milliseconds(r.deadline_ms)),
                                          {{"poll_id", id}}, Scheduler::Missed::fire_late);
  storage_.write_sync([&](Session& s) { s.execute("UPDATE op_polls SET close_job_id = ? WHERE id = ?", {job, id}); });
  Poll p = *get(id);
  {
    std::lock_guard lock(index_mutex_);
    for (const auto& m : members) open_by_person_[m.id] = id;
    open_polls_[p.code] = p;
  }
  std::string body = p.question;
  for (std::size_t i = 0; i < p.options.size(); ++i) body += "\n" + std::to_string(i + 1) + ". " + p.options[i];
  body += "\n请回复序号投票（或「投票 " + p.code + " 序号」），" + local_time(p.deadline_ms) + " 截止" +
          (p.per_household ? "，每户一票，以最后一次为准。" : "，每人一票，以最后一次为准。");
  events_.publish("announcements.notice",
                  {{"category", "投票"},
                   {"title", "投票：" + p.question.substr(0, std::min<std::size_t>(p.question.size(), 60))},
                   {"body", body},
                   {"audience", audience_to_json(p.audience)},
                   {"ask_ack", false},
                   {"source", "opinions"},
                   {"idempotency_key", "opinions.poll:" + std::to_string(id)}});
  return p;
}

Poll Polls::vote(const std::string& code, const Person& voter, int option) {
  // Open polls come from memory (a vote must not parse the poll's JSON each time).
  std::optional<Poll> p;
  {
    std::string key = text::trim(code);
    for (auto& c : key)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    std::lock_guard lock(index_mutex_);
    if (auto it = open_polls_.find(key); it != open_polls_.end()) p = it->second;
  }
  if (!p) p = by_code(code);
  if (!p) throw TicketError("not_found", "没有投票 " + code + " / no poll " + code);
  if (p->status != "open" || now_ms() >= p->deadline_ms)
    throw TicketError("conflict", "投票 " + p->code + " 已截止 / poll " + p->code + " is closed");
  if (option < 1 || option > static_cast<int>(p->options.size()))
    throw TicketError("invalid", "请回复 1 到 " + std::to_string(p->options.size()) +
                                     " 之间的序号 / answer with a number from 1 to " +
                                     std::to_string(p->options.size()));
  const auto member = storage_.read([&](Session& s) {
    return s.query("SELECT COALESCE(org_unit_id, 0) FROM op_poll_members WHERE poll_id = ? AND person_id = ?",
                   {p->id, voter.id});
  });
  if (member.empty())
    throw TicketError("forbidden",
                      "您不在投票 " + p->code + " 的范围内 / you are not in poll " + p->code + "'s audience");
  const std::int64_t key = p->per_household && voter.household_id > 0 ? voter.household_id : -voter.id;
  const std::int64_t unit = member[0].integer(0);
  const auto at = now_ms();
  const std::int64_t poll_id = p->id;
  const std::int64_t person = voter.id;
  // One row per household (or person): a later vote replaces the earlier one. Queued on the
  // writer without waiting: the vote commits before (or with) the message's own 'processed'
  // mark, which follows it on the same writer, so a crash that loses the vote leaves the
  // message unprocessed, and it is voted again at the next start.
  storage_.write_async(
      [poll_id, key, person, option, unit, at](Session& s) {
        s.execute(
            "INSERT INTO op_votes (poll_id, voter_key, person_id, option, org_unit_id, voted_at_ms) VALUES (?, ?, ?, "
            "?, "
            "?, ?) ON CONFLICT (poll_id, voter_key) DO UPDATE SET person_id = excluded.person_id, option = "
            "excluded.option, org_unit_id = excluded.org_unit_id, voted_at_ms = excluded.voted_at_ms",
            {poll_id, key, person, std::int64_t{option}, unit > 0 ? Value{unit} : Value{nullptr}, at});
      },
      nullptr);
  return *p;
}

json Polls::results(std::int64_t poll_id) {
  auto p = get(poll_id);
  if (!p) return nullptr;
  // Votes are queued on the writer without waiting; an empty write is committed after all of
  // them, so the counts below include every vote already answered.
  storage_.write_sync([](Session&) {});
  return storage_.read([&](Session& s) {
    json options = json::array();
    std::int64_t voters = 0;
    std::vector<std::int64_t> counts(p->options.size() + 1, 0);
    for (const Row& r : s.query("SELECT option, COUNT(*) FROM op_votes WHERE poll_id = ? GROUP BY option", {poll_id}))
      if (r.integer(0) >= 1 && r.integer(0) <= static_cast<std::int64_t>(p->options.size())) {
        counts[static_cast<std::size_t>(r.integer(0))] = r.integer(1);
        voters += r.integer(1);
      }
    for (std::size_t i = 0; i < p->options.size(); ++i)
      options.push_back({{"n", i + 1}, {"text", p->options[i]}, {"votes", counts[i + 1]}});
    const std::string key = p->per_household ? "COALESCE(household_id, -person_id)" : "-person_id";
    const auto eligible =
        s.query("SELECT COUNT(DISTINCT " + key + ") FROM op_poll_members WHERE poll_id = ?", {poll_id})
            .at(0)
            .integer(0);
    json by_unit = json::array();
    for (const Row& r : s.query("SELECT e.org_unit_id, e.n, COALESCE(v.n, 0) FROM (SELECT COALESCE(org_unit_id, 0) AS "
                                "org_unit_id, COUNT(DISTINCT " +
                                    key +
                                    ") AS n FROM op_poll_members WHERE poll_id = ? GROUP BY 1) e LEFT JOIN (SELECT "
                                    "COALESCE(org_unit_id, 0) AS org_unit_id, COUNT(*) AS n FROM op_votes WHERE "
                                    "poll_id = ? GROUP BY 1) v ON v.org_unit_id = e.org_unit_id",
                                {poll_id, poll_id})) {
      const auto n = r.integer(1);
      const auto unit = directory_.org_unit(r.integer(0));
      by_unit.push_back({{"unit", unit ? unit->path : std::string()},
                         {"eligible", n},
                         {"voted", r.integer(2)},
                         {"turnout", n > 0 ? static_cast<double>(r.integer(2)) / static_cast<double>(n) : 0.0}});
    }
    return json{{"poll", p->code},
                {"question", p->question},
                {"per_household", p->per_household},
                {"options", options},
                {"voters", voters},
                {"eligible", eligible},
                {"turnout", eligible > 0 ? static_cast<double>(voters) / static_cast<double>(eligible) : 0.0},
                {"by_unit", by_unit},
                {"closed", p->status == "closed"}};
  });
}

std::string Polls::results_text(const Poll& p, const json& r) const {
  std::string text = "【投票结果】" + p.question;
  for (const auto& o : r["options"])
    text += "\n" + std::to_string(o["n"].get<int>()) + ". " + o["text"].get<std::string>() + "：" +
            std::to_string(o["votes"].get<std::int64_t>()) + " 票";
  char turnout[32];
  std::snprintf(turnout, sizeof turnout, "%.0f%%", r["turnout"].get<double>() * 100);
  text += "\n共 " + std::to_string(r["voters"].get<std::int64_t>()) + (p.per_household ? " 户" : " 人") +
          "参加，参与率 " + turnout + "。";
  return text;
}

void Polls::close(std::int64_t poll_id) {
  auto p = get(poll_id);
  if (!p || p->status != "open") return;
  json r = results(poll_id);
  r["closed"] = true;
  // Published before it is marked closed: a repeat (the job runs at least once) is the same
  // notice again, which the announcements plugin takes once (its key).
  events_.publish("announcements.notice",
                  {{"category", "投票结果"},
                   {"title", "投票结果：" + p->question.substr(0, std::min<std::size_t>(p->question.size(), 60))},
                   {"body", results_text(*p, r)},
                   {"audience", audience_to_json(p->audience)},
                   {"ask_ack", false},
                   {"source", "opinions"},
                   {"idempotency_key", "opinions.poll_results:" + std::to_string(poll_id)}});
  storage_.write_sync([&](Session& s) {
    s.execute("UPDATE op_polls SET status = 'closed', closed_at_ms = ?, results = ? WHERE id = ? AND status = 'open'",
              {now_ms(), r.dump(), poll_id});
  });
  if (p->close_job_id > 0) scheduler_.cancel(p->close_job_id);  // closed early (API): the job is not needed
  load_index();
}

json Polls::votes(std::int64_t poll_id) {
  storage_.write_sync([](Session&) {});  // every vote already answered is committed
  json out = json::array();
  storage_.read([&](Session& s) {
    for (const Row& r :
         s.query("SELECT person_id, option, voted_at_ms FROM op_votes WHERE poll_id = ? ORDER BY person_id", {poll_id}))
      out.push_back({{"person_id", r.integer(0)}, {"option", r.integer(1)}, {"voted_at_ms", r.integer(2)}});
  });
  std::vector<std::int64_t> ids;
  for (const auto& v : out) ids.push_back(v["person_id"].get<std::int64_t>());
  std::map<std::int64_t, Person> people;
  for (auto& p : directory_.persons(ids)) people[p.id] = std::move(p);
  for (auto& v : out) {
    const auto it = people.find(v["person_id"].get<std::int64_t>());
    v["name"] = it == people.end() ? "" : it->second.name;
    v["household"] = it == people.end() ? "" : it->second.household_code;
  }
  return out;
}

std::optional<Poll> Polls::by_code(const std::string& code) {
  std::string key = text::trim(code);
  for (auto& c : key)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  auto rows = storage_.read(
      [&](Session& s) { return s.query(std::string("SELECT ") + kColumns + " FROM op_polls WHERE code = ?", {key}); });
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::optional<Poll> Polls::get(std::int64_t id) {
  auto rows = storage_.read(
      [&](Session& s) { return s.query(std::string("SELECT ") + kColumns + " FROM op_polls WHERE id = ?", {id}); });
  if (rows.empty()) return std::nullopt;
  return from_row(rows[0]);
}

std::vector<Poll> Polls::list(std::int64_t limit) {
  return storage_.read([&](Session& s) {
    std::vector<Poll> out;
    for (const Row& r : s.query(std::string("SELECT ") + kColumns + " FROM op_polls ORDER BY id DESC LIMIT ?", {limit}))
      out.push_back(from_row(r));
    return out;
  });
}

}  // namespace villagebot::opinions
