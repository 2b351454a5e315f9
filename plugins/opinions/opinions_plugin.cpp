// The opinions plugin (决策共谋): opinion tickets (意见/建议/反映 [匿名] <text>, 我的意见,
// 进度 <number>, 满意/不满意; 答复 <number> <text> from handlers; the SLA escalation job) and
// polls (投票 <code> <n>, or a bare number while a poll is open for the voter; the close job);
// 四议两公开 proposals (proposals.cpp, through the API); the REST API (opinions_api).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "opinions_api.hpp"
#include "plugin_support.hpp"
#include "polls.hpp"
#include "proposals.hpp"
#include "tickets.hpp"
#include "villagebot/abi.hpp"
#include "villagebot/text.hpp"

namespace villagebot::opinions {
namespace {

using nlohmann::json;

using plugin_support::utc_offset_s;

const char* status_zh(const Ticket& t) {
  if (t.status == "open") return t.level > 0 ? "已逾期转上级处理" : "处理中";
  return "已答复";
}

class OpinionsPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    options_ = TicketsOptions{};
    options_.default_sla_hours = config.integer_or("default_sla_hours", 72, 1, 24 * 90);
    poll_hours_ = config.integer_or("poll_hours", 48, 1, 24 * 60);  // 发起投票 in chat: open this long
    for (auto& t : config.tables("categories")) {
      Category c;
      c.name = t->require_string("name");
      if (auto k = t->strings("keywords")) c.keywords = *k;
      c.sla_hours = t->integer_or("sla_hours", options_.default_sla_hours, 1, 24 * 90);
      for (const auto& other : options_.categories)
        if (other.name == c.name) t->error("name", "'" + c.name + "' is used by another category");
      options_.categories.push_back(std::move(c));
    }
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("opinions", Tickets::migrations());
    options_.utc_offset_s = utc_offset_s(ctx.village().timezone);
    tickets_ = std::make_unique<Tickets>(ctx.storage(), ctx.messenger(), ctx.scheduler(), ctx.directory(), options_);
    regs_.push_back(ctx.scheduler().handle("opinions.sla", [this](const json& p) {
      tickets_->escalate(p.value("ticket_id", std::int64_t{0}), p.value("level", 0));
    }));
    regs_.push_back(ctx.commands().add({"opinions.file",
                                        {"意见", "建议", "反映", "suggest"},
                                        {},
                                        {},
                                        {"意见/建议/反映 [匿名] <内容> — 向负责的干部反映，有编号、有答复",
                                         "suggest [anonymous] <text> — an opinion, "
                                         "numbered and answered"},
                                        [this](const CommandRequest& req) { return file(req); }}));
    regs_.push_back(ctx.commands().add({"opinions.mine",
                                        {"我的意见", "mine"},
                                        {},
                                        {},
                                        {"我的意见 — 您提过的意见和处理情况", "mine — your opinions and their status"},
                                        [this](const CommandRequest& req) { return mine(req); }}));
    regs_.push_back(ctx.commands().add({"opinions.progress",
                                        {"进度", "progress"},
                                        {},
                                        {},
                                        {"进度 <编号> — 一条意见的处理进度", "progress <number> — where an opinion is"},
                                        [this](const CommandRequest& req) { return progress(req); }}));
    regs_.push_back(ctx.commands().add(
        {"opinions.answer",
         {"答复", "answer"},
         {},
         {std::string(role::kCadre), std::string(role::kGroupLeader), std::string(role::kCentralHouseholdHead)},
         {"答复 <编号> <内容> — 答复交给您的村民意见", "answer <number> <text> — answer an opinion assigned to you"},
         [this](const CommandRequest& req) { return answer(req); }}));
    regs_.push_back(ctx.commands().add({"opinions.rate",
                                        {"满意", "不满意"},
                                        {},
                                        {},
                                        {"满意/不满意 [编号] — 评价对您意见的答复", "满意/不满意 — rate the answer"},
                                        [this](const CommandRequest& req) { return rate(req); }}));
    polls_ =
        std::make_unique<Polls>(ctx.storage(), ctx.scheduler(), ctx.directory(), ctx.events(), options_.utc_offset_s);
    regs_.push_back(ctx.scheduler().handle(
        "opinions.poll_close", [this](const json& p) { polls_->close(p.value("poll_id", std::int64_t{0})); }));
    regs_.push_back(ctx.commands().add(
        {"opinions.poll",
         {"发起投票", "newpoll"},
         {},
         {std::string(role::kCadre)},
         {"发起投票 <问题> | <选项1> | <选项2> [| …] — 向您负责的组发起投票（每户一票）",
          "newpoll <question> | <option 1> | <option 2> [| …] — a poll of your units (one vote per household)"},
         [this, &directory = ctx.directory()](const CommandRequest& req) { return new_poll(req, directory); }}));
    regs_.push_back(ctx.commands().add({"opinions.vote",
                                        {"投票", "vote"},
                                        {},
                                        {},
                                        {"投票 <编号> <序号> — 参加投票（也可直接回复序号）", "vote <poll> <n> — vote"},
                                        [this](const CommandRequest& req) { return vote(req); }}));
    // A bare number answers the voter's open poll.
    regs_.push_back(ctx.commands().intercept([this](const CommandRequest& req) -> std::optional<Replies> {
      const std::string t = text::trim(req.text);
      if (t.size() != 1 || t[0] < '1' || t[0] > '9') return std::nullopt;
      const auto poll = polls_->open_poll_of(req.sender.id);
      if (!poll) return std::nullopt;
      const auto p = polls_->get(*poll);
      if (!p) return std::nullopt;
      return cast(req, p->code, t[0] - '0');
    }));
    proposals_ = std::make_unique<Proposals>(ctx.storage(), *polls_, ctx.events());
    for (auto& r : register_opinions_api(ctx.routes(), *tickets_, *polls_, *proposals_)) regs_.push_back(std::move(r));
  }

  void stop() override { regs_.clear(); }

 private:
  Replies file(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    std::string body = req.message.text;
    // As written (punctuation kept): what follows the keyword, and 匿名 when it comes first.
    if (const auto at = body.find(req.keyword); at != std::string::npos && !req.keyword.empty())
      body = body.substr(at + req.keyword.size());
    else
      body = req.rest;
    body = text::trim(body);
    for (const char* sep : {"：", ":", "，", ","})
      if (body.starts_with(sep)) body = text::trim(body.substr(std::string(sep).size()));
    bool anonymous = false;
    for (const char* word : {"匿名", "anonymous"})
      if (body.starts_with(word)) {
        anonymous = true;
        body = text::trim(body.substr(std::string(word).size()));
        for (const char* sep : {"：", ":", "，", ","})
          if (body.starts_with(sep)) body = text::trim(body.substr(std::string(sep).size()));
      }
    if (body.empty())
      return {Reply{en ? "Usage: suggest [anonymous] <text>"
                       : "用法：" + req.keyword + " [匿名] <内容>，例如：意见 村口路灯坏了，晚上看不见路"}};
    const std::string kind = req.keyword == "建议" || req.keyword == "反映" ? req.keyword : "意见";
    try {
      const Ticket t = tickets_->file(req.sender, kind, body, anonymous);
      std::string who = "村委会";
      if (auto p = tickets_->directory().person(t.assignee_person_id)) who = p->name;
      if (en)
        return {Reply{"Received: " + t.number + " (" + t.category + ")" + (anonymous ? ", anonymous" : "") +
                      ". Passed to " + who + "; answer due by " + tickets_->local_time(t.sla_due_ms) +
                      ". Send \"progress " + t.number + "\" to follow it."}};
      return {Reply{"已收到您的" + kind + "，编号 " + t.number + "（" + t.category + "）" +
                    (anonymous ? "，已匿名处理" : "") + "。已转给" + who + "，" + tickets_->local_time(t.sla_due_ms) +
                    " 前答复。发送「进度 " + t.number + "」查看。"}};
    } catch (const TicketError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies mine(const CommandRequest& req) {
    const auto list = tickets_->of_person(req.sender.id, 5);
    if (list.empty())
      return {Reply{req.lang == Lang::en ? "You have not sent any opinions yet." : "您还没有提过意见。"}};
    std::string out = req.lang == Lang::en ? "Your opinions:" : "您的意见：";
    for (const auto& t : list) {
      const std::u32string u = text::to_u32(t.text);
      out += "\n" + t.number + " " + (u.size() > 20 ? text::to_utf8(u.substr(0, 20)) + "…" : t.text) + " — " +
             status_zh(t) +
             (t.rating == "satisfied"     ? "（满意）"
              : t.rating == "unsatisfied" ? "（不满意）"
                                          : "");
    }
    return {Reply{out}};
  }

  Replies progress(const CommandRequest& req) {
    if (req.args.empty()) return mine(req);
    auto t = tickets_->by_number(req.args[0]);
    // Only the sender and the person handling it see a ticket here.
    if (!t || (t->person_id != req.sender.id && t->assignee_person_id != req.sender.id))
      return {Reply{req.lang == Lang::en ? "No opinion " + req.args[0] + " of yours."
                                         : "没有找到您的意见 " + req.args[0] + "。"}};
    std::string out = t->number + "（" + t->category + "）：" + status_zh(*t) + "。提交于 " +
                      tickets_->local_time(t->created_at_ms) + "。";
    if (t->status == "answered")
      out += "\n答复（" + t->answered_by + "，" + tickets_->local_time(t->answered_at_ms) + "）：" + t->answer;
    else
      out += "答复期限 " + tickets_->local_time(t->sla_due_ms) + "。";
    return {Reply{out}};
  }

  Replies answer(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    if (req.args.size() < 2)
      return {
          Reply{en ? "Usage: answer <number> <text>" : "用法：答复 <编号> <内容>，例如：答复 YJ-2026-0001 路灯已修好"}};
    std::string body = req.message.text;
    const auto at = body.find(req.args[0]);
    body = at == std::string::npos ? req.rest.substr(req.rest.find(req.args[0]) + req.args[0].size())
                                   : body.substr(at + req.args[0].size());
    const bool any = req.sender.has_role(role::kCadre) || req.sender.has_role(role::kAdmin);
    try {
      const Ticket t = tickets_->answer(req.args[0], req.sender, body, any);
      return {Reply{en ? "Answered " + t.number + "; the villager has been told."
                       : "已答复 " + t.number + "，已通知提意见的村民。"}};
    } catch (const TicketError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies rate(const CommandRequest& req) {
    const bool satisfied = req.keyword == "满意";
    try {
      const Ticket t = tickets_->rate(req.sender, req.args.empty() ? "" : req.args[0], satisfied);
      return {Reply{req.lang == Lang::en
                        ? "Thank you for rating " + t.number + "."
                        : "谢谢您的评价（" + t.number + "：" + (satisfied ? "满意" : "不满意") + "）。"}};
    } catch (const TicketError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  // 发起投票 <问题> | <选项1> | <选项2> …: the cadre's units (or the whole village), one vote per
  // household, closing after poll_hours.
  Replies new_poll(const CommandRequest& req, Directory& directory) {
    std::string raw = req.message.text;
    if (const auto at = raw.find(req.keyword); at != std::string::npos && !req.keyword.empty())
      raw = raw.substr(at + req.keyword.size());
    else
      raw = req.rest;
    std::vector<std::string> parts;
    // Both | and the full-width ｜ separate the question and the options.
    for (std::size_t from = 0;;) {
      auto next = raw.find('|', from);
      const auto wide = raw.find("｜", from);
      if (wide != std::string::npos && (next == std::string::npos || wide < next)) next = wide;
      parts.push_back(text::trim(raw.substr(from, next == std::string::npos ? std::string::npos : next - from)));
      if (next == std::string::npos) break;
      from = next + (raw.compare(next, 3, "｜") == 0 ? 3 : 1);
    }
    if (parts.size() < 3 || parts.size() > 10)
      return {
          Reply{req.lang == Lang::en
                    ? "Usage: newpoll <question> | <option 1> | <option 2> [| …]"
                    : "用法：发起投票 <问题> | <选项1> | <选项2>，例如：发起投票 村道用什么材料？ | 水泥路 | 柏油路"}};
    PollRequest r;
    r.question = parts[0];
    r.options.assign(parts.begin() + 1, parts.end());
    for (const auto& u : directory.units_responsible_for(req.sender.id))
      if (u.parent_id > 0) r.audience.org_units.push_back(u.id);
    if (r.audience.org_units.empty()) r.audience.everyone = true;
    r.deadline_ms = polls_->now_ms() + poll_hours_ * 3600 * 1000;
    r.created_by = req.sender.name;
    try {
      const Poll p = polls_->create(std::move(r));
      const auto eligible = polls_->results(p.id).value("eligible", std::int64_t{0});
      return {Reply{req.lang == Lang::en ? "Poll " + p.code + " sent to " + std::to_string(eligible) +
                                               " households; it closes at " + polls_->local_time(p.deadline_ms) + "."
                                         : "已发起投票 " + p.code + "，共 " + std::to_string(eligible) + " 户，" +
                                               polls_->local_time(p.deadline_ms) + " 截止，结果自动公布。"}};
    } catch (const TicketError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies vote(const CommandRequest& req) {
    if (req.args.size() != 2 || req.args[1].size() != 1 || req.args[1][0] < '1' || req.args[1][0] > '9')
      return {Reply{req.lang == Lang::en ? "Usage: vote <poll> <number>, e.g. vote P1 2"
                                         : "用法：投票 <编号> <序号>，例如：投票 P1 2"}};
    return cast(req, req.args[0], req.args[1][0] - '0');
  }

  Replies cast(const CommandRequest& req, const std::string& code, int option) {
    try {
      const Poll p = polls_->vote(code, req.sender, option);
      if (req.lang == Lang::en)
        return {Reply{"Vote recorded for " + p.code + ": " + std::to_string(option) + ". " +
                      p.options[static_cast<std::size_t>(option - 1)] + ". You may change it until " +
                      polls_->local_time(p.deadline_ms) + "."}};
      return {Reply{"已投票（" + p.code + "）：" + std::to_string(option) + ". " +
                    p.options[static_cast<std::size_t>(option - 1)] + "。" + polls_->local_time(p.deadline_ms) +
                    " 前可以改投，以最后一次为准。"}};
    } catch (const TicketError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  TicketsOptions options_;
  std::int64_t poll_hours_ = 48;
  std::unique_ptr<Tickets> tickets_;
  std::unique_ptr<Polls> polls_;
  std::unique_ptr<Proposals> proposals_;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::opinions

VILLAGEBOT_PLUGIN(villagebot::opinions::OpinionsPlugin, "opinions", "0.1.0")
