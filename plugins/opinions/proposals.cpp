#include "proposals.hpp"

#include "villagebot/text.hpp"

namespace villagebot::opinions {

namespace {

using nlohmann::json;

std::string stage_name(int stage) {
  return stage >= 0 && stage < static_cast<int>(kStages.size()) ? kStages[static_cast<std::size_t>(stage)] : "?";
}

}  // namespace

json proposal_json(const Proposal& p) {
  json stages = json::array();
  for (const auto& s : p.stages)
    stages.push_back({{"stage", s.stage},
                      {"name", stage_name(s.stage)},
                      {"decision", s.decision},
                      {"note", s.note},
                      {"poll", s.poll_code.empty() ? json(nullptr) : json(s.poll_code)},
                      {"decided_by", s.decided_by},
                      {"decided_at_ms", s.decided_at_ms}});
  return {{"id", p.id},
          {"title", p.title},
          {"description", p.description},
          {"status", p.status},
          {"next_stage", p.status == "in_progress" || p.status == "resolved"
                             ? json{{"stage", p.next_stage}, {"name", stage_name(p.next_stage)}}
                             : json(nullptr)},
          {"created_by", p.created_by},
          {"created_at_ms", p.created_at_ms},
          {"stages", stages}};
}

Proposals::Proposals(Storage& storage, Polls& polls, EventBus& events)
    : storage_(storage), polls_(polls), events_(events) {}

Proposal Proposals::create(const std::string& raw_title, const std::string& description, const std::string& by) {
  const std::string title = text::trim(raw_title);
  if (title.empty() || !text::valid_utf8(title) || title.size() > 200 || !text::valid_utf8(description) ||
      description.size() > 4000)
    throw TicketError("invalid", "标题为空、过长或不是有效文字 / the title is empty, too long or not UTF-8");
  const auto id = storage_.write([&](Session& s) {
    s.execute("INSERT INTO op_proposals (title, description, created_by, created_at_ms) VALUES (?, ?, ?, ?)",
              {title, description, by, polls_.now_ms()});
    return s.last_insert_id();
  });
  return *get(id);
}

Proposal Proposals::decide(std::int64_t id, int stage, bool passed, const std::string& note,
                           const std::string& poll_code, const std::string& by) {
  auto p = get(id);
  if (!p)
    throw TicketError("not_found", "没有第 " + std::to_string(id) + " 号议题 / no proposal " + std::to_string(id));
  if (stage < 0 || stage > 3)
    throw TicketError("invalid", "审议阶段是 0 到 3 / deliberation stages are 0 to 3 (4 and 5 are the disclosures)");
  if (p->status != "in_progress")
    throw TicketError("conflict", "议题已" + std::string(p->status == "rejected" ? "被否决" : "进入公开阶段") +
                                      " / the proposal is " + p->status);
  if (stage != p->next_stage)
    throw TicketError("conflict", "不能跳过「" + stage_name(p->next_stage) + "」直接进行「" + stage_name(stage) +
                                      "」 / stage " + std::to_string(p->next_stage) + " comes first");
  if (!poll_code.empty()) {
    if (stage != 3) throw TicketError("invalid", "只有村民代表会议决议可以用投票 / only stage 3 may be a poll");
    const auto poll = polls_.by_code(poll_code);
    if (!poll) throw TicketError("not_found", "没有投票 " + poll_code + " / no poll " + poll_code);
    if (poll->status != "closed")
      throw TicketError("conflict", "投票 " + poll->code + " 还没有截止 / poll " + poll->code + " is still open");
    const json& r = poll->results;
    const auto yes = r["options"][0]["votes"].get<std::int64_t>();
    passed = yes * 2 > r["voters"].get<std::int64_t>();
  }
  const bool recorded = storage_.write([&](Session& s) {
    if (s.execute(
            "UPDATE op_proposals SET next_stage = ?, status = ? WHERE id = ? AND next_stage = ? AND status = "
            "'in_progress'",
            {std::int64_t{stage + 1}, std::string(passed ? "in_progress" : "rejected"), id, std::int64_t{stage}}) == 0)
      return false;
    s.execute(
        "INSERT INTO op_proposal_stages (proposal_id, stage, decision, note, poll_code, decided_by, decided_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {id, std::int64_t{stage}, std::string(passed ? "passed" : "rejected"), note,
         poll_code.empty() ? Value{nullptr} : Value{poll_code}, by, polls_.now_ms()});
    return true;
  });
  if (!recorded) throw TicketError("conflict", "这一阶段刚刚已记录 / the stage was just recorded");
  return *get(id);
}

Proposal Proposals::disclose(std::int64_t id, int stage, const std::string& raw_body, const Audience& audience,
                             const std::string& by) {
  auto p = get(id);
  if (!p)
    throw TicketError("not_found", "没有第 " + std::to_string(id) + " 号议题 / no proposal " + std::to_string(id));
  if (stage != 4 && stage != 5) throw TicketError("invalid", "公开阶段是 4 和 5 / the disclosures are stages 4 and 5");
  if (p->next_stage != stage || (p->status != "in_progress" && p->status != "resolved"))
    throw TicketError("conflict", "现在不能「" + stage_name(stage) + "」，下一步是「" + stage_name(p->next_stage) +
                                      "」 / stage " + std::to_string(p->next_stage) + " comes first");
  const std::string body = text::trim(raw_body);
  if (body.empty() || !text::valid_utf8(body) || body.size() > 1900)
    throw TicketError("invalid", "公开内容为空或过长 / the disclosure text is empty or too long");
  const bool recorded = storage_.write([&](Session& s) {
    if (s.execute("UPDATE op_proposals SET next_stage = ?, status = ? WHERE id = ? AND next_stage = ?",
                  {std::int64_t{stage + 1}, std::string(stage == 4 ? "resolved" : "completed"), id,
                   std::int64_t{stage}}) == 0)
      return false;
    s.execute(
        "INSERT INTO op_proposal_stages (proposal_id, stage, decision, note, decided_by, decided_at_ms) VALUES (?, ?, "
        "'published', ?, ?, ?)",
        {id, std::int64_t{stage}, body, by, polls_.now_ms()});
    return true;
  });
  if (!recorded) throw TicketError("conflict", "这一阶段刚刚已记录 / the stage was just recorded");
  // 两公开: a notice of the stage's category (the announcements plugin sends it, once per key).
  events_.publish("announcements.notice",
                  {{"category", stage_name(stage)},
                   {"title", p->title},
                   {"body", p->title + "：" + body},
                   {"audience", audience_to_json(audience)},
                   {"ask_ack", false},
                   {"source", "opinions"},
                   {"idempotency_key", "opinions.proposal:" + std::to_string(id) + ":" + std::to_string(stage)}});
  return *get(id);
}

std::optional<Proposal> Proposals::get(std::int64_t id) {
  return storage_.read([&](Session& s) -> std::optional<Proposal> {
    auto rows = s.query(
        "SELECT id, title, description, status, next_stage, created_by, created_at_ms FROM op_proposals WHERE id = ?",
        {id});
    if (rows.empty()) return std::nullopt;
    Proposal p;
    p.id = rows[0].integer(0);
    p.title = rows[0].text(1);
    p.description = rows[0].text(2);
    p.status = rows[0].text(3);
    p.next_stage = static_cast<int>(rows[0].integer(4));
    p.created_by = rows[0].text(5);
    p.created_at_ms = rows[0].integer(6);
    for (const Row& r : s.query("SELECT stage, decision, note, COALESCE(poll_code, ''), decided_by, decided_at_ms FROM "
                                "op_proposal_stages WHERE proposal_id = ? ORDER BY stage",
                                {id}))
      p.stages.push_back(
          StageRecord{static_cast<int>(r.integer(0)), r.text(1), r.text(2), r.text(3), r.text(4), r.integer(5)});
    return p;
  });
}

std::vector<Proposal> Proposals::list(std::int64_t limit) {
  std::vector<std::int64_t> ids;
  storage_.read([&](Session& s) {
    for (const Row& r : s.query("SELECT id FROM op_proposals ORDER BY id DESC LIMIT ?", {limit}))
      ids.push_back(r.integer(0));
  });
  std::vector<Proposal> out;
  for (auto id : ids)
    if (auto p = get(id)) out.push_back(std::move(*p));
  return out;
}

}  // namespace villagebot::opinions
