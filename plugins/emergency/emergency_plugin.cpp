// The emergency plugin (应急动员): 应急/警报 <text> by a commander, the members'
// answers (1/收到/到 coming, 2/无法到岗 cannot) taken before any other command
// while they are alerted, 点名 and 解除, the escalation jobs, the REST API
// (emergency_api). The alerts themselves are alerts.cpp.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerts.hpp"
#include "emergency_api.hpp"
#include "plugin_support.hpp"
#include "villagebot/abi.hpp"
#include "villagebot/text.hpp"

namespace villagebot::emergency {
namespace {

using nlohmann::json;

using plugin_support::utc_offset_s;

bool one_of(const std::string& t, std::initializer_list<const char*> words) {
  return std::any_of(words.begin(), words.end(), [&](const char* w) { return t == w; });
}

std::string list_names(const std::vector<Person>& people, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < people.size() && i < max; ++i) out += (i > 0 ? "、" : "") + people[i].name;
  if (people.size() > max) out += " 等";
  return out.empty() ? "无" : out;
}

class EmergencyPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    policy_ = Policy{};
    policy_.responses_needed = config.integer_or("responses_needed", 5, 1, 100000);
    policy_.repeat = static_cast<int>(config.integer_or("repeat", 0, 0, 20));
    for (auto& t : config.tables("escalation")) {
      Step s;
      const auto minutes = t->integer("after_minutes", 1, 24 * 60);
      const auto seconds = t->integer("after_seconds", 1, 24 * 3600);
      s.after_s = minutes ? *minutes * 60 : seconds.value_or(0);
      s.action = t->require_string("action");
      if (s.after_s == 0 || (minutes && seconds))
        t->error("after_minutes", "give after_minutes (1 to 1440) or after_seconds, one of them");
      if (s.action != "resend" && s.action != "notify_leaders" && s.action != "notify_commander")
        t->error("action", "must be resend, notify_leaders or notify_commander");
      policy_.steps.push_back(std::move(s));
    }
    if (!config.has("escalation"))  // the issue's example chain
      policy_.steps = {{3 * 60, "resend"}, {6 * 60, "notify_leaders"}, {10 * 60, "notify_commander"}};
    for (auto& t : config.tables("teams")) {
      Team team;
      team.name = t->require_string("name");
      if (auto roles = t->strings("roles")) team.roles = *roles;
      if (auto units = t->strings("units")) team.units = *units;
      for (const auto& other : policy_.teams)
        if (other.name == team.name) t->error("name", "'" + team.name + "' is used by another team");
      policy_.teams.push_back(std::move(team));
    }
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("emergency", Alerts::migrations());
    alerts_ = std::make_unique<Alerts>(ctx.storage(), ctx.messenger(), ctx.scheduler(), ctx.directory(), policy_);
    logger_ = &ctx.logger();
    regs_.push_back(ctx.scheduler().handle("emergency.step", [this](const json& p) {
      alerts_->run_step(p.value("alert_id", std::int64_t{0}), p.value("cycle", 0), p.value("step", 0));
    }));
    // Alerts a crash left half-sent, and the chains' next steps: once the engine runs.
    regs_.push_back(ctx.scheduler().handle("emergency.recover", [this](const json&) {
      if (const int n = alerts_->recover(); n > 0) logger_->warn("emergency: {} alerts were half-sent; sent now", n);
    }));
    ctx.scheduler().schedule_at("emergency.recover", ctx.scheduler().now(), json::object(),
                                Scheduler::Missed::fire_late);
    // The members' answers come before any command while they are alerted.
    regs_.push_back(ctx.commands().intercept([this](const CommandRequest& req) { return intercept(req); }));
    const std::vector<std::string> commanders{std::string(role::kCommander)};
    regs_.push_back(
        ctx.commands().add({"emergency.trigger",
                            {"应急", "警报", "alert"},
                            {},
                            commanders,
                            {"应急 [演练] [队伍] <内容> [集合点 <地点>] — 立即动员应急队（群消息和短信）",
                             "alert [drill] [team] <text> [集合点 <place>] — mobilise the emergency team now"},
                            [this](const CommandRequest& req) { return trigger(req); }}));
    regs_.push_back(ctx.commands().add({"emergency.rollcall",
                                        {"点名", "rollcall"},
                                        {},
                                        commanders,
                                        {"点名 — 到岗、无法到岗、未回复的人", "rollcall — who is coming, who is not"},
                                        [this](const CommandRequest& req) { return rollcall(req); }}));
    regs_.push_back(ctx.commands().add({"emergency.stand_down",
                                        {"解除", "standdown"},
                                        {},
                                        commanders,
                                        {"解除 — 解除应急，通知所有队员", "standdown — end the alert, tell everyone"},
                                        [this](const CommandRequest& req) { return stand_down(req); }}));
    for (auto& r : register_emergency_api(ctx.routes(), *alerts_, utc_offset_s(ctx.village().timezone)))
      regs_.push_back(std::move(r));
  }

  void stop() override { regs_.clear(); }

 private:
  std::optional<Replies> intercept(const CommandRequest& req) {
    const std::string t = text::ascii_lower(text::trim(req.text));
    const bool coming = one_of(t, {"1", "收到", "到", "到岗", "ok", "马上到", "yes"});
    const bool cannot = one_of(t, {"2", "无法到岗", "不能到岗", "来不了", "no"});
    if (!coming && !cannot) return std::nullopt;
    const bool en = req.lang == Lang::en;
    auto recorded = alerts_->answer(req.sender.id, coming ? Answer::coming : Answer::cannot);
    if (!recorded) {
      // Not alerted: 1 / 收到 / ok may be meant for a notice (the core's 收到); an
      // alert-only answer while an alert runs is refused politely.
      if (alerts_->any_active() && one_of(t, {"2", "无法到岗", "不能到岗", "来不了", "到", "到岗", "马上到"}))
        return Replies{Reply{en ? "You are not on the list of this emergency call-out. Thank you all the same."
                                : "您不在本次应急动员名单中，无需回复。谢谢您的关心！"}};
      return std::nullopt;
    }
    const Alert& a = recorded->alert;
    if (!recorded->counted)
      return Replies{Reply{en ? "Thank you. The alert has been stood down; your answer is noted but not counted."
                              : "谢谢！本次应急已解除，您的回复已记录，不再计入。"}};
    if (coming)
      return Replies{Reply{
          en ? "Noted: you are coming." + (a.meeting_point.empty() ? "" : " Meet at " + a.meeting_point + ".")
             : "收到！已记录您到岗。" +
                   (a.meeting_point.empty() ? std::string() : "集合点：" + a.meeting_point + "。") + "注意安全！"}};
    return Replies{
        Reply{en ? "Noted: you cannot come. Reply 1 if that changes." : "已记录：您无法到岗。如情况变化，请回复 1。"}};
  }

  // 应急 [演练] [队伍] <内容> [集合点 <地点>]
  Replies trigger(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    AlertRequest r;
    std::string rest = req.rest;
    auto take_word = [&](const std::string& w) { rest = text::trim(rest.substr(rest.find(w) + w.size())); };
    const auto words = req.args;
    std::size_t at = 0;
    if (at < words.size() && (words[at] == "演练" || words[at] == "drill")) {
      r.drill = true;
      take_word(words[at++]);
    }
    if (at + 1 < words.size())
      for (const auto& team : alerts_->policy().teams)
        if (words[at] == team.name) {
          r.team = team.name;
          take_word(words[at++]);
          break;
        }
    for (const char* marker : {"集合点", "集合地点", "集合"}) {
      const auto pos = rest.find(marker);
      if (pos == std::string::npos) continue;
      r.meeting_point = text::trim(rest.substr(pos + std::string(marker).size()));
      while (!r.meeting_point.empty() && (r.meeting_point.front() == ':' || r.meeting_point.front() == ' '))
        r.meeting_point.erase(0, 1);
      if (r.meeting_point.starts_with("：")) r.meeting_point = text::trim(r.meeting_point.substr(3));
      rest = text::trim(rest.substr(0, pos));
      break;
    }
    r.text = rest;
    if (r.text.empty())
      return {Reply{
          en ? "Usage: alert [drill] [team] <text> [集合点 <place>]"
             : "用法：应急 [演练] [队伍] <内容> [集合点 <地点>]，例如：应急 河水上涨，请带好救生衣 集合点 村委会"}};
    r.commander_person_id = req.sender.id;
    r.created_by = req.sender.name;
    try {
      const Alert a = alerts_->trigger(std::move(r));
      const auto st = alerts_->messenger().broadcast_status(a.broadcast_id);
      const json plan = st.is_object() ? st.value("plan", json::object()) : json::object();
      const auto persons = plan.value("persons", std::int64_t{0});
      if (en)
        return {Reply{"Alert #" + std::to_string(a.id) + (a.drill ? " (drill)" : "") + " sent to " +
                      std::to_string(persons) + " members: " + std::to_string(plan.value("sms", std::int64_t{0})) +
                      " SMS, " + std::to_string(plan.value("group_posts", std::int64_t{0})) + " group posts. " +
                      std::to_string(a.responses_needed) + " needed. Send rollcall to see answers."}};
      return {Reply{"已发出第 " + std::to_string(a.id) + " 号" + (a.drill ? "演练" : "") + "警报，" + a.team + " " +
                    std::to_string(persons) + " 人：短信 " + std::to_string(plan.value("sms", std::int64_t{0})) +
                    " 条，群消息 " + std::to_string(plan.value("group_posts", std::int64_t{0})) + " 条。需 " +
                    std::to_string(a.responses_needed) + " 人到岗，未回复的将按预案再次通知。发送「点名」查看回复。"}};
    } catch (const AlertError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  std::int64_t alert_of(const CommandRequest& req) {
    if (!req.args.empty() && req.args[0].find_first_not_of("0123456789") == std::string::npos &&
        req.args[0].size() < 12)
      return std::stoll(req.args[0]);
    return alerts_->latest_active();
  }

  Replies rollcall(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    const auto id = alert_of(req);
    if (id == 0) return {Reply{en ? "No alert is active." : "当前没有进行中的应急动员。"}};
    try {
      const auto rc = alerts_->roll_call(id);
      const auto& a = rc.alert;
      if (en)
        return {Reply{"Alert #" + std::to_string(a.id) + ": coming " + std::to_string(rc.coming.size()) + "/" +
                      std::to_string(a.responses_needed) + " (" + list_names(rc.coming, 30) + "); cannot " +
                      std::to_string(rc.cannot.size()) + " (" + list_names(rc.cannot, 30) + "); no answer " +
                      std::to_string(rc.no_answer.size()) + " (" + list_names(rc.no_answer, 30) + ")"}};
      return {Reply{"第 " + std::to_string(a.id) + " 号" + (a.drill ? "演练" : "") + "警报" +
                    (a.status == "stood_down" ? "（已解除）" : "") + "：\n到岗 " + std::to_string(rc.coming.size()) +
                    "/" + std::to_string(a.responses_needed) + " 人：" + list_names(rc.coming, 30) + "\n无法到岗 " +
                    std::to_string(rc.cannot.size()) + " 人：" + list_names(rc.cannot, 30) + "\n未回复 " +
                    std::to_string(rc.no_answer.size()) + " 人：" + list_names(rc.no_answer, 30)}};
    } catch (const AlertError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies stand_down(const CommandRequest& req) {
    const bool en = req.lang == Lang::en;
    const auto id = alert_of(req);
    if (id == 0) return {Reply{en ? "No alert is active." : "当前没有进行中的应急动员。"}};
    try {
      const Alert a = alerts_->stand_down(id, req.sender.name);
      const auto rc = alerts_->roll_call(id);
      return {Reply{en ? "Alert #" + std::to_string(a.id) +
                             " stood down; everyone alerted is told. Coming: " + std::to_string(rc.coming.size())
                       : "第 " + std::to_string(a.id) + " 号警报已解除，已通知全部 " +
                             std::to_string(rc.coming.size() + rc.cannot.size() + rc.no_answer.size()) +
                             " 名队员。到岗 " + std::to_string(rc.coming.size()) + " 人。"}};
    } catch (const AlertError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Policy policy_;
  std::unique_ptr<Alerts> alerts_;
  spdlog::logger* logger_ = nullptr;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::emergency

VILLAGEBOT_PLUGIN(villagebot::emergency::EmergencyPlugin, "emergency", "0.1.0")
