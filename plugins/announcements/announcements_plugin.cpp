// The announcements plugin (通知公告): 通知 with a 确认 step, 最新通知, 未读 and
// 通知状态 in chat; notices other plugins publish on the bus
// (announcements.notice); the jobs that send scheduled notices and remind;
// the REST API (announcements_api). The notices themselves are notices.cpp.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "announcements_api.hpp"
#include "notices.hpp"
#include "plugin_support.hpp"
#include "villagebot/abi.hpp"
#include "villagebot/text.hpp"

namespace villagebot::announcements {
namespace {

using nlohmann::json;

using plugin_support::utc_offset_s;

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string plan_text(const DeliveryPlan& p, bool en) {
  if (en) {
    std::string t = std::to_string(p.persons) + " persons: " + std::to_string(p.group_posts) + " group posts (" +
                    std::to_string(p.covered_by_groups) + " persons), " + std::to_string(p.personal_chats) +
                    " private chats, " + std::to_string(p.sms) + " SMS (" + std::to_string(p.sms_segments) +
                    " billed segments)";
    if (p.opted_out > 0) t += ", " + std::to_string(p.opted_out) + " opted out";
    if (p.unreachable > 0) t += ", " + std::to_string(p.unreachable) + " unreachable";
    return t;
  }
  std::string t = "共 " + std::to_string(p.persons) + " 人：群消息 " + std::to_string(p.group_posts) + " 条（覆盖 " +
                  std::to_string(p.covered_by_groups) + " 人），私聊 " + std::to_string(p.personal_chats) +
                  " 条，短信 " + std::to_string(p.sms) + " 条（计费 " + std::to_string(p.sms_segments) + " 条）";
  if (p.opted_out > 0) t += "，已退订 " + std::to_string(p.opted_out) + " 人";
  if (p.unreachable > 0) t += "，无法送达 " + std::to_string(p.unreachable) + " 人";
  return t;
}

// From another plugin: points' 红榜 and checkpoints, opinions' poll results and
// 两公开 disclosures. Exactly once per idempotency_key.
struct NoticeEvent {
  static constexpr std::string_view kTopic = "announcements.notice";
  std::string category = "通知";
  std::string title;
  std::string body;
  std::string body_en;
  json audience = json::object();
  std::string policy = "group_first";
  bool ask_ack = false;
  bool urgent = false;
  std::int64_t scheduled_at_ms = 0;
  std::string source;
  std::string idempotency_key;
  NLOHMANN_DEFINE_TYPE_INTRUSIVE_WITH_DEFAULT(NoticeEvent, category, title, body, body_en, audience, policy, ask_ack,
                                              urgent, scheduled_at_ms, source, idempotency_key)
};

// At most `max` bytes, cut at a character boundary, with … when cut.
std::string fit(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

// The text after the command's keyword and the words already taken, as the sender wrote it
// (punctuation and line breaks kept; normalisation turns ：，and newlines into spaces).
std::string raw_rest(const CommandRequest& req, const std::vector<std::string>& taken) {
  std::string raw = req.message.text;
  const auto at = raw.find(req.keyword);
  if (req.keyword.empty() || at == std::string::npos) return req.rest;
  raw = raw.substr(at + req.keyword.size());
  auto skip_blanks = [&] {
    for (bool more = true; more;) {
      more = false;
      for (const char* sep : {" ", "\t", "\n", "\r", "\xE3\x80\x80", "\xEF\xBC\x9A", ":", "\xEF\xBC\x8C", ","})
        if (raw.starts_with(sep)) {
          raw.erase(0, std::string(sep).size());
          more = true;
        }
    }
  };
  for (const auto& word : taken) {
    skip_blanks();
    if (!raw.starts_with(word)) return req.rest;  // written differently (full-width ...): the normalised text
    raw.erase(0, word.size());
  }
  skip_blanks();
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
    raw.pop_back();
  return raw;
}

class AnnouncementsPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    // An SMS reminder to those who have not acknowledged, this many hours after sending (0: none).
    reminder_after_s_ = config.integer_or("reminder_after_hours", 24, 0, 720) * 3600;
    confirm_timeout_ = std::chrono::seconds(config.integer_or("confirm_timeout_minutes", 10, 1, 120) * 60);
    latest_count_ = static_cast<int>(config.integer_or("latest_count", 3, 1, 10));
    const std::string policy = config.string_or("default_policy", "group_first");
    if (auto p = policy_from(policy))
      default_policy_ = *p;
    else
      config.error("default_policy", "must be group_first, personal_all or sms_all");
    templates_.clear();
    for (auto& t : config.tables("templates")) {
      Template tp;
      tp.code = t->require_string("code");
      tp.category = t->string_or("category", "通知");
      tp.title = t->string_or("title", "");
      tp.body = t->require_string("body");
      tp.body_en = t->string_or("body_en", "");
      for (const auto& other : templates_)
        if (!tp.code.empty() && other.code == tp.code)
          t->error("code", "'" + tp.code + "' is used by another template");
      templates_.push_back(std::move(tp));
    }
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("announcements", Notices::migrations());
    NoticesOptions options;
    options.default_reminder_s = reminder_after_s_;
    options.utc_offset_s = utc_offset_s(ctx.village().timezone);
    notices_ = std::make_unique<Notices>(ctx.storage(), ctx.messenger(), ctx.scheduler(), ctx.directory(), options);
    directory_ = &ctx.directory();
    commands_ = &ctx.commands();
    logger_ = &ctx.logger();
    regs_.push_back(ctx.scheduler().handle("announcements.send", [this](const json& payload) {
      notices_->send_scheduled(payload.value("notice_id", std::int64_t{0}));
    }));
    regs_.push_back(ctx.scheduler().handle("announcements.remind", [this](const json& payload) {
      notices_->remind(payload.value("notice_id", std::int64_t{0}));
    }));
    // Notices a crash left between stored and sent: once the server runs (the delivery
    // engine knows its adapters only then), from the scheduler.
    regs_.push_back(ctx.scheduler().handle("announcements.recover", [this](const json&) {
      if (const int recovered = notices_->recover(); recovered > 0)
        logger_->warn("announcements: {} notices were between stored and sent at the last stop; sent now", recovered);
    }));
    ctx.scheduler().schedule_at("announcements.recover", ctx.scheduler().now(), json::object(),
                                Scheduler::Missed::fire_late);
    regs_.push_back(ctx.events().on<NoticeEvent>([this](const NoticeEvent& e) { on_notice_event(e); }));

    regs_.push_back(
        ctx.commands().add({"announcements.compose",
                            {"通知", "notify"},
                            {},
                            {std::string(role::kCadre)},
                            {"通知 [紧急] [组名] <内容> — 向您负责的组发通知（先确认人数和短信条数）",
                             "notify [urgent] [unit] <text> — a notice to your units (after a confirmation)"},
                            [this](const CommandRequest& req) { return compose(req); }}));
    regs_.push_back(ctx.commands().add({"announcements.latest",
                                        {"最新通知", "latest"},
                                        {},
                                        {},
                                        {"最新通知 — 最近发给您的 3 条通知", "latest — the last notices sent to you"},
                                        [this](const CommandRequest& req) { return latest(req); }}));
    regs_.push_back(ctx.commands().add({"announcements.unread",
                                        {"未读", "unread"},
                                        {},
                                        {std::string(role::kCentralHouseholdHead)},
                                        {"未读 [通知编号] — 您联系的农户中还没有确认最新通知的",
                                         "unread [notice] — your linked households that have "
                                         "not confirmed the latest notice"},
                                        [this](const CommandRequest& req) { return unread(req); }}));
    regs_.push_back(ctx.commands().add(
        {"announcements.status",
         {"通知状态", "nstatus"},
         {},
         {std::string(role::kCadre)},
         {"通知状态 [编号] — 通知的送达和确认情况", "nstatus [notice] — delivery and confirmations of a notice"},
         [this](const CommandRequest& req) { return status(req); }}));
    for (auto& r : register_announcements_api(ctx.routes(), {*notices_, templates_, default_policy_}))
      regs_.push_back(std::move(r));
  }

  void stop() override { regs_.clear(); }

  [[nodiscard]] json health() const override { return {{"state", "running"}, {"templates", templates_.size()}}; }

 private:
  // 通知 [紧急] [组名|全村] <内容>
  Replies compose(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    std::vector<std::string> words = req.args;
    NoticeDraft d;
    d.policy = default_policy_;
    std::size_t at = 0;
    if (at < words.size() && (words[at] == "紧急" || words[at] == "urgent")) {
      d.urgent = true;
      ++at;
    }
    std::string target_name;
    if (at + 1 < words.size()) {
      if (words[at] == "全村" || words[at] == "all") {
        d.audience.everyone = true;
        target_name = en ? "the whole village" : "全村";
        ++at;
      } else if (auto unit = directory_->org_unit_by_path(words[at]); unit && !words[at].empty()) {
        d.audience.org_units = {unit->id};
        target_name = unit->path;
        ++at;
      }
    }
    // The body is the rest of the text as written (punctuation and line breaks kept).
    const std::string body =
        raw_rest(req, std::vector<std::string>(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(at)));
    if (body.empty())
      return {Reply{en ? "Usage: notify [urgent] [unit] <text>, e.g. notify 一组 Meeting at 8pm in the hall"
                       : "用法：通知 [紧急] [组名] <内容>，例如：通知 一组 今晚8点在村委会开会"}};
    if (d.audience.empty()) {
      const auto scope = notices_->scope_of(req.sender.id);
      if (scope.empty()) {
        d.audience.everyone = true;
        target_name = en ? "the whole village" : "全村";
      } else {
        for (const auto& u : scope) {
          d.audience.org_units.push_back(u.id);
          target_name += (target_name.empty() ? "" : "、") + u.path;
        }
      }
    }
    d.body = body;
    d.source = "chat";
    d.created_by = req.sender.name;
    d.creator_person_id = req.sender.id;
    DeliveryPlan plan;
    try {
      notices_->check_scope(d.audience, req.sender.id);
      plan = notices_->preview(d);
    } catch (const NoticeError& e) {
      return {Reply{e.in(req.lang)}};
    }
    if (plan.persons == 0)
      return {Reply{en ? "Nobody is registered in " + target_name + "." : target_name + " 没有登记的人，未发送。"}};
    const std::int64_t sender = req.sender.id;
    const Lang lang = req.lang;
    commands_->ask(sender, confirm_timeout_, [this, d, lang](const CommandRequest& answer) -> std::optional<Replies> {
      const std::string t = text::ascii_lower(text::trim(answer.text));
      if (t == "确认" || t == "确定" || t == "发送" || t == "yes" || t == "y" || t == "confirm") {
        try {
          const Notice n = notices_->create(d);
          const auto st = notices_->messenger().broadcast_status(n.broadcast_id);
          const auto persons = st.is_object() ? st.value("persons", std::int64_t{0}) : 0;
          if (lang == Lang::en)
            return Replies{Reply{"Notice #" + std::to_string(n.id) + " sent to " + std::to_string(persons) +
                                 " persons. Send \"nstatus " + std::to_string(n.id) + "\" to see who confirmed."}};
          return Replies{Reply{"已发送第 " + std::to_string(n.id) + " 号通知，共 " + std::to_string(persons) +
                               " 人。发送「通知状态 " + std::to_string(n.id) + "」查看送达和确认情况。"}};
        } catch (const NoticeError& e) {
          return Replies{Reply{e.in(lang)}};
        }
      }
      if (t == "取消" || t == "算了" || t == "no" || t == "n" || t == "cancel")
        return Replies{Reply{lang == Lang::en ? "Cancelled; nothing was sent." : "已取消，通知没有发送。"}};
      return std::nullopt;  // another command: the question stays open until it times out
    });
    const std::string minutes = std::to_string(confirm_timeout_.count() / 60);
    if (en)
      return {Reply{"Notice to " + target_name + (d.urgent ? " (urgent)" : "") + ":\n" + d.body + "\n" +
                    plan_text(plan, true) + ".\nReply \"confirm\" to send or \"cancel\" (within " + minutes +
                    " minutes)."}};
    return {Reply{"将向" + target_name + "发送" + (d.urgent ? "紧急" : "") + "通知：\n" + d.body + "\n" +
                  plan_text(plan, false) + "。\n回复「确认」发送，回复「取消」放弃（" + minutes + " 分钟内有效）。"}};
  }

  Replies latest(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    const auto list = notices_->latest_for(req.sender.id, latest_count_);
    if (list.empty()) return {Reply{en ? "No notices have been sent to you yet." : "近期没有发给您的通知。"}};
    std::string out = en ? "Latest notices:" : "最近的通知：";
    for (const auto& a : list) {
      const auto& n = a.notice;
      const std::string when = notices_->local_time(n.sent_at_ms).substr(5, 5);  // MM-DD
      std::string body = en && !n.body_en.empty() ? n.body_en : n.body;
      for (const auto& [var, value] : {std::pair<std::string, std::string>{"{name}", req.sender.name},
                                       {"{household}", req.sender.household_code},
                                       {"{date}", notices_->local_time(n.sent_at_ms).substr(5, 5)}})
        for (auto p = body.find(var); p != std::string::npos; p = body.find(var, p + value.size()))
          body.replace(p, var.size(), value);
      const std::u32string u = text::to_u32(body);
      out += "\n" + std::to_string(n.id) + ". 【" + n.category + "】" + when + " " +
             (u.size() > 80 ? text::to_utf8(u.substr(0, 80)) + "…" : body);
      if (n.ask_ack)
        out += a.status.acked_at_ms > 0 ? (en ? " (confirmed)" : "（已确认）")
                                        : (en ? " (please confirm)" : "（请回复「收到」确认）");
    }
    return {Reply{out}};
  }

  Replies unread(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    if (req.sender.household_id == 0)
      return {Reply{en ? "You are not registered to a household." : "您的号码没有登记到户，无法查看联系户。"}};
    std::int64_t notice_id = 0;
    if (!req.args.empty()) {
      if (!all_digits(req.args[0])) return {Reply{en ? "Usage: unread [notice number]" : "用法：未读 [通知编号]"}};
      notice_id = std::stoll(req.args[0]);
    }
    const auto u = notices_->unread_for(req.sender.household_id, notice_id);
    if (!u)
      return {Reply{notice_id > 0 ? (en ? "No notice " + std::to_string(notice_id) + " reached your linked households."
                                        : "第 " + std::to_string(notice_id) + " 号通知没有发给您联系的农户。")
                                  : (en ? "No notice asking for confirmation reached your linked households."
                                        : "近期没有需要您联系的农户确认的通知。")}};
    const std::string head = (en ? "Notice #" : "第 ") + std::to_string(u->notice.id) + (en ? " \"" : " 号通知「") +
                             u->notice.title + (en ? "\"" : "」");
    if (u->households.empty())
      return {Reply{en ? head + ": all " + std::to_string(u->linked_households) + " linked households confirmed."
                       : head + "：您联系的 " + std::to_string(u->linked_households) + " 户都已确认。"}};
    std::string out = en ? head + ": " + std::to_string(u->households.size()) + " of " +
                               std::to_string(u->linked_households) + " linked households have not confirmed:"
                         : head + "：您联系的 " + std::to_string(u->linked_households) + " 户中有 " +
                               std::to_string(u->households.size()) + " 户未确认：";
    for (const auto& h : u->households) {
      out += "\n" + h.household.code + " " + (h.household.head_name.empty() ? "" : h.household.head_name + " ");
      std::string phones;
      // In a group chat everyone would see the numbers: masked there, in full in private.
      const bool in_group = req.message.channel == ChannelKind::group;
      for (const auto& m : h.members)
        if (!m.phone.empty())
          phones += (phones.empty() ? "" : "、") + m.name + " " + (in_group ? text::mask_phone(m.phone) : m.phone);
      out += phones;
    }
    out += en ? "\nPlease tell them in person or by phone." : "\n请上门或电话转告。";
    return {Reply{out}};
  }

  Replies status(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    std::optional<Notice> n;
    if (!req.args.empty()) {
      if (!all_digits(req.args[0])) return {Reply{en ? "Usage: nstatus [notice number]" : "用法：通知状态 [编号]"}};
      n = notices_->get(std::stoll(req.args[0]));
    } else {
      for (const auto& candidate : notices_->list(0, 50, "", ""))
        if (candidate.creator_person_id == req.sender.id) {
          n = candidate;
          break;
        }
    }
    if (!n) return {Reply{en ? "No such notice." : "没有找到这条通知。"}};
    std::string out = (en ? "Notice #" : "第 ") + std::to_string(n->id) + (en ? " \"" : " 号通知「") + n->title +
                      (en ? "\": " : "」：");
    if (n->status == "scheduled")
      return {Reply{out + (en ? "scheduled for " : "定时于 ") + notices_->local_time(n->scheduled_at_ms) +
                    (en ? "" : " 发送")}};
    if (n->status == "cancelled") out += en ? "cancelled. " : "已撤回。";
    const auto st = notices_->messenger().broadcast_status(n->broadcast_id);
    if (!st.is_object()) return {Reply{out + (en ? "being sent." : "正在发送。")}};
    auto count = [&](const char* k) {
      return st["recipients"].contains(k) ? st["recipients"][k].get<std::int64_t>() : std::int64_t{0};
    };
    const std::int64_t persons = st.value("persons", std::int64_t{0});
    const std::int64_t acked = count("acknowledged");
    const std::int64_t pending = count("queued") + count("sending");
    const std::int64_t reached = count("sent") + count("delivered") + acked;
    const std::int64_t failed = count("failed") + count("expired") + count("unreachable") + count("opted_out");
    if (en)
      out += std::to_string(persons) + " persons; reached " + std::to_string(reached) + ", waiting " +
             std::to_string(pending) + ", not reached " + std::to_string(failed) + "; confirmed " +
             std::to_string(acked) + (n->ask_ack ? ", not yet " + std::to_string(persons - acked) : "");
    else
      out += "共 " + std::to_string(persons) + " 人，已送达 " + std::to_string(reached) + " 人，待发送 " +
             std::to_string(pending) + " 人，未能送达 " + std::to_string(failed) + " 人；已确认 " +
             std::to_string(acked) + " 人" + (n->ask_ack ? "，未确认 " + std::to_string(persons - acked) + " 人" : "");
    if (n->reminded_at_ms > 0)
      out += en ? "; reminder sent to " + std::to_string(n->reminded_persons)
                : "；已短信提醒 " + std::to_string(n->reminded_persons) + " 人";
    return {Reply{out + (en ? "." : "。")}};
  }

  void on_notice_event(const NoticeEvent& e) {
    NoticeDraft d;
    d.category = e.category.empty() ? "通知" : e.category;
    d.title = e.title;
    // A publisher's long text (a 红榜 of 50 households and ties) is cut rather than lost.
    d.body = fit(e.body, 1990);
    d.body_en = fit(e.body_en, 1990);
    d.audience = audience_from_json(e.audience);  // throws on a bad audience: the bus logs it
    d.policy = policy_from(e.policy).value_or(default_policy_);
    d.ask_ack = e.ask_ack;
    d.urgent = e.urgent;
    d.scheduled_at_ms = e.scheduled_at_ms;
    d.source = e.source.empty() ? "event" : e.source;
    d.created_by = d.source;
    d.idempotency_key = e.idempotency_key.empty() ? "" : "event:" + e.idempotency_key;
    bool created = false;
    const Notice n = notices_->create(std::move(d), &created);
    if (created) logger_->info("announcements: notice {} ({}) from {}", n.id, n.category, n.source);
  }

  std::int64_t reminder_after_s_ = 24 * 3600;
  std::chrono::seconds confirm_timeout_{600};
  int latest_count_ = 3;
  ChannelPolicy default_policy_ = ChannelPolicy::group_first;
  std::vector<Template> templates_;
  std::unique_ptr<Notices> notices_;
  Directory* directory_ = nullptr;
  CommandRegistry* commands_ = nullptr;
  spdlog::logger* logger_ = nullptr;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::announcements

VILLAGEBOT_PLUGIN(villagebot::announcements::AnnouncementsPlugin, "announcements", "0.1.0")
