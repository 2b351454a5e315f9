// The volunteers plugin (志愿服务与轮流管, issue 9) — in progress: posts from config, shifts
// through the API, 报名 / 取消报名 / 我的班次 / 签到, and the completion job that turns
// check-ins into points (points.award, once per person and shift) and the rest into no-shows.
// The rota generator is rota.cpp; reminders, swaps, no-show limits and .ics are still to come.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shifts.hpp"
#include "villagebot/abi.hpp"
#include "villagebot/text.hpp"

namespace villagebot::volunteers {
namespace {

using nlohmann::json;

bool number(const std::string& s) {
  return !s.empty() && s.size() < 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

class VolunteersPlugin final : public Plugin {
 public:
  void configure(ConfigSection& config) override {
    posts_.clear();
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
  }

  void start(PluginContext& ctx) override {
    ctx.storage().migrate("volunteers", Shifts::migrations());
    shifts_ = std::make_unique<Shifts>(ctx.storage(), ctx.scheduler(), ctx.directory(), ctx.events());
    shifts_->load_posts(posts_);
    regs_.push_back(ctx.scheduler().handle(
        "volunteers.complete", [this](const json& p) { shifts_->complete(p.value("shift_id", std::int64_t{0})); }));
    auto add = [&](std::string name, std::vector<std::string> keywords, Text help,
                   Replies (VolunteersPlugin::*fn)(const CommandRequest&)) {
      regs_.push_back(ctx.commands().add(
          {std::move(name), std::move(keywords), {}, {}, std::move(help), [this, fn](const CommandRequest& req) {
             return (this->*fn)(req);
           }}));
    };
    add("volunteers.signup", {"报名", "signup"}, {"报名 <班次号> — 报名值班", "signup <shift> — sign up"},
        &VolunteersPlugin::sign_up);
    add("volunteers.cancel", {"取消报名", "unsignup"}, {"取消报名 <班次号> — 截止前取消", "unsignup <shift>"},
        &VolunteersPlugin::cancel);
    add("volunteers.mine", {"我的班次", "shifts"}, {"我的班次 — 您报名的班次", "shifts — your shifts"},
        &VolunteersPlugin::mine);
    add("volunteers.checkin", {"签到", "checkin"}, {"签到 — 值班开始后签到", "checkin — at your shift"},
        &VolunteersPlugin::check_in);
    RouteSpec create;
    create.method = "POST";
    create.path = "shifts";
    create.roles = {"cadre"};
    create.tag = "volunteers";
    create.summary = "Add a shift: {\"post\",\"start_ms\",\"end_ms\",\"capacity\",\"signup_cutoff_ms\"}";
    create.success_status = 201;
    create.handler = [this](const HttpRequest& req, const Responder& respond) {
      const json b = json::parse(req.body, nullptr, false);
      if (!b.is_object() || !b.contains("post") || !b["post"].is_string() || !b.contains("start_ms") ||
          !b["start_ms"].is_number_integer() || !b.contains("end_ms") || !b["end_ms"].is_number_integer() ||
          !b.contains("capacity") || !b["capacity"].is_number_integer())
        return respond(HttpResponse::error(400, "bad_request", "expected post, start_ms, end_ms, capacity"));
      try {
        const Shift s = shifts_->add_shift(b["post"].get<std::string>(), b["start_ms"].get<std::int64_t>(),
                                           b["end_ms"].get<std::int64_t>(), b["capacity"].get<int>(),
                                           b.value("signup_cutoff_ms", std::int64_t{0}));
        respond(HttpResponse::json(201, {{"id", s.id}, {"capacity", s.capacity}, {"signed_up", s.signed_up}}));
      } catch (const ShiftError& e) {
        respond(HttpResponse::error(e.code() == "not_found" ? 404 : 422, e.code(), e.what()));
      }
    };
    regs_.push_back(ctx.routes().add(std::move(create)));
    for (const bool publish : {false, true}) {
      RouteSpec rota;
      rota.method = "POST";
      rota.path = publish ? "rota/publish" : "rota/preview";
      rota.roles = {"cadre"};
      rota.tag = "volunteers";
      rota.summary = publish ? "Generate and publish the rota for {\"from_ms\",\"to_ms\"}: sign-ups written, each "
                               "person told"
                             : "Preview the rota for {\"from_ms\",\"to_ms\"}: assignments, unfilled places, fairness";
      rota.handler = [this, publish](const HttpRequest& req, const Responder& respond) {
        const json b = json::parse(req.body, nullptr, false);
        if (!b.is_object() || !b.contains("from_ms") || !b["from_ms"].is_number_integer() || !b.contains("to_ms") ||
            !b["to_ms"].is_number_integer())
          return respond(HttpResponse::error(400, "bad_request", "expected {\"from_ms\", \"to_ms\"}"));
        respond(HttpResponse::json(
            200, shifts_->rota(b["from_ms"].get<std::int64_t>(), b["to_ms"].get<std::int64_t>(), publish)));
      };
      regs_.push_back(ctx.routes().add(std::move(rota)));
    }
    RouteSpec person_ics;
    person_ics.method = "GET";
    person_ics.path = "persons/{id}/calendar.ics";
    person_ics.tag = "volunteers";
    person_ics.summary = "A person's shifts as an iCalendar feed (RFC 5545)";
    person_ics.response_content_type = "text/calendar; charset=utf-8";
    person_ics.handler = [this](const HttpRequest& req, const Responder& respond) {
      const std::string id = req.path_param("id");
      if (!number(id)) return respond(HttpResponse::error(404, "not_found", "no such person"));
      respond(HttpResponse::text(200, shifts_->ics_of_person(std::stoll(id)), "text/calendar; charset=utf-8"));
    };
    regs_.push_back(ctx.routes().add(std::move(person_ics)));
    RouteSpec post_ics;
    post_ics.method = "GET";
    post_ics.path = "posts/{code}/calendar.ics";
    post_ics.tag = "volunteers";
    post_ics.summary = "A post's shifts as an iCalendar feed (RFC 5545)";
    post_ics.response_content_type = "text/calendar; charset=utf-8";
    post_ics.handler = [this](const HttpRequest& req, const Responder& respond) {
      if (!shifts_->post(req.path_param("code"))) return respond(HttpResponse::error(404, "not_found", "no such post"));
      respond(HttpResponse::text(200, shifts_->ics_of_post(req.path_param("code")), "text/calendar; charset=utf-8"));
    };
    regs_.push_back(ctx.routes().add(std::move(post_ics)));
  }

  void stop() override { regs_.clear(); }

 private:
  Replies sign_up(const CommandRequest& req) {
    if (req.args.size() != 1 || !number(req.args[0]))
      return {Reply{req.tr({"用法：报名 <班次号>", "Usage: signup <shift>"})}};
    try {
      const Shift s = shifts_->sign_up(std::stoll(req.args[0]), req.sender);
      return {Reply{req.lang == Lang::en
                        ? "Signed up for shift " + req.args[0] + " (" + std::to_string(s.signed_up) + "/" +
                              std::to_string(s.capacity) + ")."
                        : "报名成功：第 " + req.args[0] + " 号班次（已报 " + std::to_string(s.signed_up) + "/" +
                              std::to_string(s.capacity) + " 人）。"}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies cancel(const CommandRequest& req) {
    if (req.args.size() != 1 || !number(req.args[0]))
      return {Reply{req.tr({"用法：取消报名 <班次号>", "Usage: unsignup <shift>"})}};
    try {
      shifts_->cancel(std::stoll(req.args[0]), req.sender);
      return {Reply{req.tr({"已取消报名。", "Cancelled."})}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  Replies mine(const CommandRequest& req) {
    const auto list = shifts_->upcoming_of(req.sender.id);
    if (list.empty()) return {Reply{req.tr({"您没有报名的班次。", "You have no shifts."})}};
    std::string out = req.tr({"您的班次：", "Your shifts:"});
    for (const auto& s : list) out += "\n#" + std::to_string(s.id);
    return {Reply{out}};
  }

  Replies check_in(const CommandRequest& req) {
    try {
      const Shift s = shifts_->check_in(req.sender);
      return {Reply{req.lang == Lang::en ? "Checked in for shift " + std::to_string(s.id) + "."
                                         : "签到成功：第 " + std::to_string(s.id) + " 号班次。"}};
    } catch (const ShiftError& e) {
      return {Reply{e.in(req.lang)}};
    }
  }

  std::vector<Post> posts_;
  std::unique_ptr<Shifts> shifts_;
  std::vector<Registration> regs_;
};

}  // namespace
}  // namespace villagebot::volunteers

VILLAGEBOT_PLUGIN(villagebot::volunteers::VolunteersPlugin, "volunteers", "0.1.0")
