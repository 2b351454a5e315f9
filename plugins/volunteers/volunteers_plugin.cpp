// The volunteers plugin (志愿服务与轮流管, issue 9): posts and recurring templates from config,
// shifts and the rota through the API (volunteers_api.cpp), and the villagers' commands:
// 班次 (open shifts), 报名 / 取消报名, 我的班次, 换班 / 接班 / 取消换班, 签到. Jobs: the
// completion after each shift (points once, no-shows), the reminders the evening before and an
// hour before, and a daily run that makes the recurring shifts of the coming weeks.
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shifts.hpp"
#include "villagebot/abi.hpp"
#include "villagebot/text.hpp"
#include "volunteers_api.hpp"

namespace villagebot::volunteers {
namespace {

using nlohmann::json;

// 1–7, 一…日 / 天, 周六, 星期六, mon…sun (any case) → ISO weekday; 0 when it is none.
int weekday_of(std::string d) {
  for (const char* prefix : {"星期", "周"})
    if (d.starts_with(prefix)) d = d.substr(std::string(prefix).size());
  static const std::vector<std::vector<std::string>> names{
      {"1", "一", "mon", "monday"},      {"2", "二", "tue", "tuesday"}, {"3", "三", "wed", "wednesday"},
      {"4", "四", "thu", "thursday"},    {"5", "五", "fri", "friday"},  {"6", "六", "sat", "saturday"},
      {"7", "日", "sun", "sunday", "天"}};
  for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < names.size(); ++i)
    for (const auto& n : names[i])
      if (d == n) return static_cast<int>(i) + 1;
  return 0;
}

// "07:00" → 420; -1 when malformed.
int minute_of(const std::string& s) {
  return parse_clock(s).value_or(-1);
}

class VolunteersPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    posts_.clear();
    templates_.clear();
    options_ = ShiftsOptions{};
    options_.horizon_days = static_cast<int>(config.integer_or("horizon_days", 28, 1, 366));
    const std::string evening = config.string_or("evening_reminder", "20:00");
    options_.evening_reminder_minute = evening.empty() ? -1 : minute_of(evening);
    if (!evening.empty() && options_.evening_reminder_minute < 0)
      config.error("evening_reminder", "must be a time like \"20:00\" (or \"\" for none)");
    options_.hour_reminder_minutes = static_cast<int>(config.integer_or("hour_reminder_minutes", 60, 0, 24 * 60));
    options_.no_show_limit = static_cast<int>(config.integer_or("no_show_limit", 3, 0, 100));
    options_.no_show_window_days = static_cast<int>(config.integer_or("no_show_window_days", 90, 1, 3660));
    options_.suspension_days = static_cast<int>(config.integer_or("suspension_days", 30, 0, 3660));
    options_.min_rest_ms = config.integer_or("min_rest_minutes", 60, 0, 24 * 60) * 60 * 1000;
    for (auto& t : config.tables("posts")) {
      Post p;
      p.code = t->require_string("code");
      p.name = t->require_string("name");
      p.place = t->string_or("place", "");
      p.required_role = t->string_or("role", "");
      p.points_rule = t->string_or("points_rule", "");
      p.points = t->integer_or("points", 0, 0, 1000);
      posts_.push_back(std::move(p));
    }
    for (auto& t : config.tables("templates")) {
      ShiftTemplate st;
      st.code = t->require_string("code");
      st.post_code = t->require_string("post");
      for (const auto& d : t->strings("days").value_or(std::vector<std::string>{})) {
        const int w = weekday_of(d);
        if (w == 0) t->error("days", "\"" + d + "\" is not a weekday (1–7, 一…日, 周六, sat)");
        st.weekdays.push_back(w);
      }
      if (st.weekdays.empty()) t->error("days", "lists the weekdays, e.g. [\"周六\"]");
      st.start_minute = minute_of(t->require_string("start"));
      st.end_minute = minute_of(t->require_string("end"));
      if (st.start_minute < 0 || st.end_minute <= st.start_minute)
        t->error("end", "start and end are times like \"07:00\", end after start, within one day");
      st.capacity = static_cast<int>(t->integer_or("capacity", 1, 1, 1000));
      st.cutoff_minutes = static_cast<int>(t->integer_or("cutoff_minutes", 0, 0, 14 * 24 * 60));
      bool known = false;
      for (const auto& p : posts_) known = known || p.code == st.post_code;
      if (!known) t->error("post", "no [[plugins.volunteers.posts]] has the code \"" + st.post_code + "\"");
      templates_.push_back(std::move(st));
    }
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("volunteers", Shifts::migrations());
    options_.utc_offset_s = plugin_support::utc_offset_s(ctx.village().timezone);
    shifts_ = std::make_unique<Shifts>(ctx.storage(), ctx.scheduler(), ctx.directory(), ctx.events(), ctx.messenger(),
                                       options_);
    shifts_->load_posts(posts_);
    shifts_->load_templates(templates_);
    regs_.push_back(ctx.scheduler().handle(
        "volunteers.complete", [this](const json& p) { shifts_->complete(p.value("shift_id", std::int64_t{0})); }));
    regs_.push_back(ctx.scheduler().handle("volunteers.remind", [this](const json& p) {
      shifts_->remind(p.value("shift_id", std::int64_t{0}), p.value("kind", std::string()));
    }));
    regs_.push_back(ctx.scheduler().handle("volunteers.materialise", [this](const json&) { shifts_->materialise(); }));
    schedule_daily(ctx);
    shifts_->materialise();
    auto add = [&](std::string name, std::vector<std::string> keywords, Text help,
                   Replies (VolunteersPlugin::*fn)(const CommandRequest&)) {
      regs_.push_back(ctx.commands().add(
          {std::move(name), std::move(keywords), {}, {}, std::move(help), [this, fn](const CommandRequest& req) {
             return (this->*fn)(req);
           }}));
    };
    add("volunteers.open", {"班次", "值班", "rota"}, {"班次 — 近 7 天可报名的值班", "rota — shifts open for sign-up"},
        &VolunteersPlugin::open);
    add("volunteers.signup", {"报名", "signup"}, {"报名 <班次号> — 报名值班", "signup <shift> — sign up"},
        &VolunteersPlugin::sign_up);
    add("volunteers.cancel", {"取消报名", "unsignup"}, {"取消报名 <班次号> — 截止前取消", "unsignup <shift>"},
        &VolunteersPlugin::cancel);
    add("volunteers.mine", {"我的班次", "shifts"}, {"我的班次 — 您报名的班次", "shifts — your shifts"},
        &VolunteersPlugin::mine);
    add("volunteers.swap", {"换班", "swap"}, {"换班 <班次号> — 不能来时找人接班", "swap <shift> — offer your place"},
        &VolunteersPlugin::swap);
    add("volunteers.take", {"接班", "take"}, {"接班 <班次号> — 接替别人的班", "take <shift> — take an offered place"},
        &VolunteersPlugin::take);
    add("volunteers.unswap", {"取消换班", "unswap"}, {"取消换班 <班次号> — 收回换班", "unswap <shift>"},
        &VolunteersPlugin::unswap);
    add("volunteers.checkin", {"签到", "checkin"}, {"签到 — 值班开始后签到", "checkin — at your shift"},
        &VolunteersPlugin::check_in);
    for (auto& r : register_volunteers_api(ctx.routes(), *shifts_, ctx.directory())) regs_.push_back(std::move(r));
  }

  void stop() override { regs_.clear(); }

 private:
  // One daily run at 02:30 (village time) makes the recurring shifts; its job id is kept so that
  // a restart does not add a second one.
  void schedule_daily(PluginContext& ctx) {
    auto& storage = ctx.storage();
    const auto rows =
        storage.read([](Session& s) { return s.query("SELECT value FROM vol_meta WHERE key = 'materialise_job'"); });
    if (!rows.empty()) return;
    const auto job = ctx.scheduler().schedule_cron("volunteers.materialise", "30 2 * * *", json::object());
    storage.write_sync([&](Session& s) {
      s.execute("INSERT INTO vol_meta (key, value) VALUES ('materialise_job', ?) ON CONFLICT (key) DO NOTHING",
                {std::to_string(job)});
    });
  }

  static std::optional<std::int64_t> shift_arg(const CommandRequest& req) {
    if (req.args.size() != 1) return std::nullopt;
    std::string a = req.args[0];
    if (a.starts_with("#")) a = a.substr(1);
    return plugin_support::decimal_id(a);
  }

  Replies open(const CommandRequest& req) {
    const auto list = shifts_->open_shifts(7);
    if (list.empty())
      return {Reply{req.tr({"近 7 天没有可报名的班次。", "No shifts open for sign-up in the next 7 days."})}};
    const bool en = req.lang == Lang::en;
    std::string out = en ? "Open shifts (send \"signup <no>\"):" : "可报名的班次（回复「报名 班次号」）：";
    int shown = 0;
    for (const auto& s : list) {
      if (++shown > 15) {
        out += en ? "\n… and more: ask your village committee" : "\n……更多班次请问村委会";
        break;
      }
      out +=
          "\n" + shifts_->describe(s, req.lang) + " " + std::to_string(s.signed_up) + "/" + std::to_string(s.capacity);
      if (s.offered > 0)
        out += en ? " (swap: \"take " + std::to_string(s.id) + "\")"
                  : "（有人换班：「接班 " + std::to_string(s.id) + "」）";
    }
    return {Reply{out}};
  }

  Replies sign_up(const CommandRequest& req) {
    const auto id = shift_arg(req);
    if (!id)
      return {Reply{req.tr({"用法：报名 <班次号>；发送「班次」查看可报名的班次",
                            "Usage: signup <shift>; send \"rota\" for open shifts"})}};
    try {
      const Shift s = shifts_->sign_up(*id, req.sender);
      const std::string n = std::to_string(s.signed_up) + "/" + std::to_string(s.capacity);
      return {Reply{req.lang == Lang::en ? "Signed up: " + shifts_->describe(s, Lang::en) + " (" + n + ")."
                                         : "报名成功：" + shifts_->describe(s, Lang::zh) + "（已报 " + n + " 人）。"}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies cancel(const CommandRequest& req) {
    const auto id = shift_arg(req);
    if (!id) return {Reply{req.tr({"用法：取消报名 <班次号>", "Usage: unsignup <shift>"})}};
    try {
      shifts_->cancel(*id, req.sender);
      return {Reply{req.tr({"已取消报名。", "Cancelled."})}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies mine(const CommandRequest& req) {
    const auto list = shifts_->upcoming_of(req.sender.id);
    const Record r = shifts_->record(req.sender.id);
    const bool en = req.lang == Lang::en;
    std::string out;
    if (list.empty()) {
      out = req.tr(
          {"您没有报名的班次；发送「班次」查看可报名的班次。", "You have no shifts; send \"rota\" for open ones."});
    } else {
      out = en ? "Your shifts:" : "您的班次：";
      for (const auto& s : list) out += "\n" + shifts_->describe(s, req.lang);
    }
    char hours[32];
    std::snprintf(hours, sizeof hours, "%.1f", r.hours);
    out += en ? "\nDone: " + std::to_string(r.completed) + " shifts, " + hours +
                    " h; no-shows: " + std::to_string(r.no_shows)
              : "\n已完成 " + std::to_string(r.completed) + " 次、" + hours + " 小时；未到岗 " +
                    std::to_string(r.no_shows) + " 次";
    if (r.suspended_until_ms > 0) {
      const std::string until =
          plugin_support::local_time(r.suspended_until_ms, shifts_->options().utc_offset_s).substr(0, 10);
      out += en ? "\nSign-ups suspended until " + until : "\n" + until + " 前暂停报名";
    }
    return {Reply{out}};
  }

  Replies swap(const CommandRequest& req) {
    const auto id = shift_arg(req);
    if (!id) return {Reply{req.tr({"用法：换班 <班次号>", "Usage: swap <shift>"})}};
    try {
      const Shift s = shifts_->offer(*id, req.sender);
      const std::string n = std::to_string(s.id);
      return {Reply{req.lang == Lang::en ? "Your place on " + shifts_->describe(s, Lang::en) +
                                               " is offered. Until someone sends \"take " + n + "\" it is still yours."
                                         : "已发布换班：" + shifts_->describe(s, Lang::zh) + "。有人发送「接班 " + n +
                                               "」后您就不用到岗；在此之前仍是您的班。"}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies take(const CommandRequest& req) {
    const auto id = shift_arg(req);
    if (!id) return {Reply{req.tr({"用法：接班 <班次号>", "Usage: take <shift>"})}};
    try {
      const Shift s = shifts_->take(*id, req.sender);
      return {Reply{req.lang == Lang::en ? "You took the place: " + shifts_->describe(s, Lang::en) + "."
                                         : "接班成功：" + shifts_->describe(s, Lang::zh) + "。"}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies unswap(const CommandRequest& req) {
    const auto id = shift_arg(req);
    if (!id) return {Reply{req.tr({"用法：取消换班 <班次号>", "Usage: unswap <shift>"})}};
    try {
      shifts_->withdraw_offer(*id, req.sender);
      return {Reply{req.tr({"已收回换班，这个班仍由您值。", "Offer withdrawn: the shift is yours."})}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies check_in(const CommandRequest& req) {
    try {
      const Shift s = shifts_->check_in(req.sender);
      return {Reply{req.lang == Lang::en ? "Checked in: " + shifts_->describe(s, Lang::en) + "."
                                         : "签到成功：" + shifts_->describe(s, Lang::zh) + "。"}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  std::vector<Post> posts_;
  std::vector<ShiftTemplate> templates_;
  ShiftsOptions options_;
  std::unique_ptr<Shifts> shifts_;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::volunteers

VILLAGEBOT_PLUGIN(villagebot::volunteers::VolunteersPlugin, "volunteers", "0.1.0")
