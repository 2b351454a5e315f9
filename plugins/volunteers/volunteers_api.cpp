#include "volunteers_api.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "plugin_support.hpp"

namespace villagebot::volunteers {

namespace {

using nlohmann::json;
using plugin_support::id_of;
using plugin_support::refused;

json shift_json(const Shift& s) {
  auto ms = [](std::int64_t v) { return v > 0 ? json(v) : json(nullptr); };
  return {{"id", s.id},
          {"post", s.post_code},
          {"post_name", s.post_name},
          {"place", s.place},
          {"start_ms", s.start_ms},
          {"end_ms", s.end_ms},
          {"capacity", s.capacity},
          {"signed_up", s.signed_up},
          {"offered", s.offered},
          {"signup_cutoff_ms", s.signup_cutoff_ms},
          {"template_id", s.template_id > 0 ? json(s.template_id) : json(nullptr)},
          {"completed_at_ms", ms(s.completed_at_ms)},
          {"cancelled_at_ms", ms(s.cancelled_at_ms)}};
}

json template_json(const ShiftTemplate& t) {
  char start[32], end[32];
  std::snprintf(start, sizeof start, "%02d:%02d", t.start_minute / 60, t.start_minute % 60);
  std::snprintf(end, sizeof end, "%02d:%02d", t.end_minute / 60, t.end_minute % 60);
  return {{"id", t.id},
          {"code", t.code.empty() ? json(nullptr) : json(t.code)},
          {"post", t.post_code},
          {"weekdays", t.weekdays},
          {"start", start},
          {"end", end},
          {"capacity", t.capacity},
          {"cutoff_minutes", t.cutoff_minutes},
          {"active", t.active}};
}

// A time in a body: unix ms, RFC 3339 or "YYYY-MM-DD HH:MM" village time, under `name` or `name_ms`.
// Times the plugin takes lie between 1970 and 2100: arithmetic on them cannot overflow.
constexpr std::int64_t kLatestMs = 4102444800000;  // 2100-01-01

std::optional<std::int64_t> time_in(const json& body, const std::string& name, std::int64_t offset_s) {
  for (const auto& key : {name, name + "_ms"}) {
    if (!body.contains(key)) continue;
    const json& v = body[key];
    std::optional<std::int64_t> t;
    if (v.is_number_integer()) t = v.get<std::int64_t>();
    if (v.is_string()) t = plugin_support::parse_time(v.get<std::string>(), offset_s);
    if (t && (*t < 0 || *t > kLatestMs)) return std::nullopt;
    return t;
  }
  return std::nullopt;
}

std::int64_t required_time(const json& body, const std::string& name, std::int64_t offset_s) {
  if (auto t = time_in(body, name, offset_s)) return *t;
  throw ShiftError("invalid", name + " 缺少或不是有效的时间 / " + name +
                                  " is missing or not a time (unix ms, RFC 3339 or 'YYYY-MM-DD HH:MM')");
}

std::optional<int> minute_of(const json& v) {
  if (!v.is_string()) return std::nullopt;
  return parse_clock(v.get<std::string>());
}

// An integer field within [lo, hi], or nullopt (absent, not an integer, out of range).
std::optional<std::int64_t> integer_in(const json& body, const char* key, std::int64_t lo, std::int64_t hi) {
  if (!body.contains(key) || !body[key].is_number_integer()) return std::nullopt;
  const auto v = body[key].get<std::int64_t>();
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

json parse_object(const HttpRequest& req) {
  json b = json::parse(req.body, nullptr, false);
  if (!b.is_object()) throw ShiftError("invalid", "请求体必须是 JSON 对象 / the body must be a JSON object");
  return b;
}

std::int64_t query_time(const HttpRequest& req, const char* name, std::int64_t fallback, std::int64_t offset_s) {
  const std::string v = req.query_param(name);
  if (v.empty()) return fallback;
  if (auto t = plugin_support::parse_time(v, offset_s); t && *t >= 0 && *t <= kLatestMs) return *t;
  throw ShiftError("invalid", std::string(name) + " 不是有效的时间 / " + name + " is not a time");
}

constexpr const char* kShiftSchema =
    R"json({"type":"object","properties":{"id":{"type":"integer"},"post":{"type":"string"},"post_name":{"type":"string"},"place":{"type":"string"},"start_ms":{"type":"integer"},"end_ms":{"type":"integer"},"capacity":{"type":"integer"},"signed_up":{"type":"integer"},"offered":{"type":"integer","description":"places offered for a swap (换班)"},"signup_cutoff_ms":{"type":"integer"},"template_id":{"type":["integer","null"]},"completed_at_ms":{"type":["integer","null"]},"cancelled_at_ms":{"type":["integer","null"]}}})json";
constexpr const char* kShiftRequest =
    R"json({"type":"object","required":["post","start","end","capacity"],"properties":{"post":{"type":"string","description":"a post's code"},"start":{"type":["string","integer"],"description":"RFC 3339, 'YYYY-MM-DD HH:MM' village time, or unix ms (also start_ms)"},"end":{"type":["string","integer"],"description":"also end_ms; at most 24 hours after the start"},"capacity":{"type":"integer","minimum":1,"maximum":1000},"signup_cutoff":{"type":["string","integer"],"description":"sign-ups and cancellations close then (also signup_cutoff_ms); default: the start"}}})json";
constexpr const char* kTemplateSchema =
    R"json({"type":"object","properties":{"id":{"type":"integer"},"code":{"type":["string","null"]},"post":{"type":"string"},"weekdays":{"type":"array","items":{"type":"integer","minimum":1,"maximum":7}},"start":{"type":"string","example":"07:00"},"end":{"type":"string","example":"09:00"},"capacity":{"type":"integer"},"cutoff_minutes":{"type":"integer"},"active":{"type":"boolean"}}})json";
constexpr const char* kTemplateRequest =
    R"json({"type":"object","required":["post","weekdays","start","end","capacity"],"properties":{"post":{"type":"string"},"weekdays":{"type":"array","items":{"type":"integer","minimum":1,"maximum":7},"description":"ISO: 1 Monday … 7 Sunday"},"start":{"type":"string","example":"07:00","description":"village time"},"end":{"type":"string","example":"09:00"},"capacity":{"type":"integer","minimum":1,"maximum":1000},"cutoff_minutes":{"type":"integer","description":"sign-ups close this long before the start (default 0)"}}})json";
constexpr const char* kPeriodRequest =
    R"json({"type":"object","required":["from","to"],"properties":{"from":{"type":["string","integer"],"description":"shifts starting from then (also from_ms)"},"to":{"type":["string","integer"],"description":"until then, exclusive (also to_ms); at most a year"}}})json";
constexpr const char* kDraftSchema =
    R"json({"type":"object","properties":{"draft_id":{"type":"integer"},"from_ms":{"type":"integer"},"to_ms":{"type":"integer"},"assignments":{"type":"array","items":{"type":"object","properties":{"shift_id":{"type":"integer"},"person_id":{"type":"integer"},"name":{"type":"string"},"post":{"type":"string"},"start_ms":{"type":"integer"},"end_ms":{"type":"integer"}}}},"unfilled":{"type":"object","additionalProperties":{"type":"integer"},"description":"shift id → places nobody could take"},"problems":{"type":"array","items":{"type":"object","properties":{"shift_id":{"type":"integer"},"person_id":{"type":"integer"},"problem":{"type":"string","enum":["unknown_shift","unknown_person","duplicate","over_capacity","role","unavailable","rest"]}}}},"fairness":{"type":"object","properties":{"people":{"type":"integer"},"min_hours":{"type":"number"},"max_hours":{"type":"number"},"mean_hours":{"type":"number"}}},"published":{"type":"boolean"},"skipped":{"type":"array","description":"after publish: assignments not written (a problem, or the place was taken meanwhile)"}}})json";
constexpr const char* kAdjustRequest =
    R"json({"type":"object","required":["assignments"],"properties":{"assignments":{"type":"array","items":{"type":"object","required":["shift_id","person_id"],"properties":{"shift_id":{"type":"integer"},"person_id":{"type":"integer"}}},"description":"the whole rota of the draft, as it should be"}}})json";
constexpr const char* kFairnessSchema =
    R"json({"type":"object","properties":{"people":{"type":"integer"},"min_hours":{"type":"number"},"max_hours":{"type":"number"},"mean_hours":{"type":"number"},"spread_hours":{"type":"number"},"longest_shift_hours":{"type":"number"},"within_one_shift":{"type":"boolean","description":"max − min ≤ the longest shift"},"overloaded":{"type":"array","description":"more than one shift above the mean"},"persons":{"type":"array","items":{"type":"object","properties":{"person_id":{"type":"integer"},"name":{"type":"string"},"hours":{"type":"number"},"shifts":{"type":"integer"}}}}}})json";
constexpr const char* kRecordSchema =
    R"json({"type":"object","properties":{"person_id":{"type":"integer"},"completed":{"type":"integer"},"hours":{"type":"number"},"no_shows":{"type":"integer"},"counted_no_shows":{"type":"integer","description":"within the window, since the last clearing"},"suspended_until_ms":{"type":["integer","null"]},"upcoming":{"type":"array"}}})json";
constexpr const char* kUnavailableRequest =
    R"json({"type":"object","required":["from","to"],"properties":{"from":{"type":["string","integer"]},"to":{"type":["string","integer"]},"reason":{"type":"string","maxLength":500}}})json";
constexpr const char* kPersonRequest =
    R"json({"type":"object","required":["person_id"],"properties":{"person_id":{"type":"integer"}}})json";

}  // namespace

std::vector<Registration> register_volunteers_api(RouteRegistry& routes, Shifts& shifts, Directory& directory) {
  std::vector<Registration> regs;
  const std::int64_t offset = shifts.options().utc_offset_s;
  const std::vector<std::string> writers{"cadre"};
  const std::vector<std::string> readers{"cadre", "supervisor"};
  // Every handler: a refusal becomes 404/409/403/422 with its message.
  auto add = [&](std::string method, std::string path, std::vector<std::string> roles, std::string summary,
                 std::function<HttpResponse(const HttpRequest&)> fn, RouteSpec spec = {}) {
    spec.method = std::move(method);
    spec.path = std::move(path);
    spec.roles = std::move(roles);
    spec.summary = std::move(summary);
    spec.tag = "volunteers";
    spec.handler = [fn = std::move(fn)](const HttpRequest& req, const Responder& respond) {
      try {
        respond(fn(req));
      } catch (const ShiftError& e) {
        respond(refused(e));
      } catch (const nlohmann::json::exception& e) {  // a value of the wrong type deep in a body
        respond(HttpResponse::error(422, "invalid", std::string("请求内容不对 / the body is malformed: ") + e.what()));
      }
    };
    regs.push_back(routes.add(std::move(spec)));
  };
  auto with = [](std::string request_schema, std::string response_schema, int status = 200) {
    RouteSpec s;
    s.request_schema = std::move(request_schema);
    s.response_schema = std::move(response_schema);
    s.success_status = status;
    return s;
  };
  auto shift_id = [](const HttpRequest& req) {
    const auto id = id_of(req);
    if (!id) throw ShiftError("not_found", "没有这个班次 / no such shift");
    return *id;
  };
  auto person_of = [&directory](std::int64_t id) {
    auto p = directory.person(id);
    if (!p) throw ShiftError("not_found", "没有这个人 / no such person");
    return *p;
  };

  add("GET", "posts", readers, "Posts (岗位): the guard posts and 轮流管 items from config",
      [&shifts](const HttpRequest&) {
        json items = json::array();
        for (const auto& p : shifts.posts())
          items.push_back({{"code", p.code},
                           {"name", p.name},
                           {"place", p.place},
                           {"required_role", p.required_role},
                           {"points_rule", p.points_rule},
                           {"points", p.points}});
        return HttpResponse::json(200, {{"items", items}});
      });

  RouteSpec list_spec = with(
      "", std::string(R"({"type":"object","properties":{"items":{"type":"array","items":)") + kShiftSchema + "}}}");
  list_spec.query_params = {{"from", "shifts starting from (RFC 3339, village time or unix ms; default now)"},
                            {"to", "until, exclusive (default: from + 28 days)"},
                            {"post", "only this post's shifts"}};
  add(
      "GET", "shifts", readers, "Shifts in a period",
      [&shifts, offset](const HttpRequest& req) {
        const auto from = query_time(req, "from", shifts.now_ms(), offset);
        const auto to = query_time(req, "to", from + 28LL * 24 * 3600 * 1000, offset);
        json items = json::array();
        for (const auto& s : shifts.shifts_between(from, to, req.query_param("post"))) items.push_back(shift_json(s));
        return HttpResponse::json(200, {{"items", items}});
      },
      list_spec);

  add(
      "POST", "shifts", writers, "Add a shift",
      [&shifts, offset](const HttpRequest& req) {
        const json b = parse_object(req);
        const auto capacity = integer_in(b, "capacity", 1, 1000);
        if (!b.contains("post") || !b["post"].is_string() || !capacity)
          throw ShiftError("invalid",
                           "需要 post、start、end、capacity（1–1000） / expected post, start, end, capacity "
                           "(1 to 1000)");
        const Shift s = shifts.add_shift(b["post"].get<std::string>(), required_time(b, "start", offset),
                                         required_time(b, "end", offset), static_cast<int>(*capacity),
                                         time_in(b, "signup_cutoff", offset).value_or(0));
        return HttpResponse::json(201, shift_json(s));
      },
      with(kShiftRequest, kShiftSchema, 201));

  add(
      "GET", "shifts/{id}", readers, "A shift with its sign-ups (who, status, check-in, offered for a swap)",
      [&shifts, shift_id](const HttpRequest& req) {
        const auto s = shifts.shift(shift_id(req));
        if (!s) throw ShiftError("not_found", "没有这个班次 / no such shift");
        json list = json::array();
        for (const auto& u : shifts.signups(s->id)) {
          auto ms = [](std::int64_t v) { return v > 0 ? json(v) : json(nullptr); };
          list.push_back({{"person_id", u.person_id},
                          {"name", u.name},
                          {"status", u.status},
                          {"signed_at_ms", u.signed_at_ms},
                          {"checked_in_at_ms", ms(u.checked_in_at_ms)},
                          {"offered_at_ms", ms(u.offered_at_ms)},
                          {"swapped_to", u.swapped_to > 0 ? json(u.swapped_to) : json(nullptr)}});
        }
        json out = shift_json(*s);
        out["signups"] = list;
        return HttpResponse::json(200, out);
      },
      with("", kShiftSchema));

  add(
      "POST", "shifts/{id}/cancel", writers, "Cancel a shift that has not ended: those signed up are told",
      [&shifts, shift_id](const HttpRequest& req) {
        return HttpResponse::json(200, shift_json(shifts.cancel_shift(shift_id(req))));
      },
      with("", kShiftSchema));

  add(
      "POST", "shifts/{id}/signups", writers,
      "Sign a person up (until the start; capacity, role, overlaps and no-show suspension still apply)",
      [&shifts, shift_id, person_of](const HttpRequest& req) {
        const json b = parse_object(req);
        if (!b.contains("person_id") || !b["person_id"].is_number_integer())
          throw ShiftError("invalid", "需要 person_id / expected person_id");
        const Shift s = shifts.sign_up(shift_id(req), person_of(b["person_id"].get<std::int64_t>()), true);
        return HttpResponse::json(201, shift_json(s));
      },
      with(kPersonRequest, kShiftSchema, 201));

  add("DELETE", "shifts/{id}/signups/{person_id}", writers, "Take a person off a shift (until the start)",
      [&shifts, shift_id, person_of](const HttpRequest& req) {
        const auto person = id_of(req, "person_id");
        if (!person) throw ShiftError("not_found", "没有这个人 / no such person");
        shifts.cancel(shift_id(req), person_of(*person), true);
        return HttpResponse::json(200, shift_json(*shifts.shift(shift_id(req))));
      });

  add("GET", "swaps", readers, "Places offered for a swap (换班) that nobody has taken yet",
      [&shifts](const HttpRequest&) {
        json items = json::array();
        for (const auto& s : shifts.open_shifts(60)) {
          if (s.offered == 0) continue;
          json by = json::array();
          for (const auto& u : shifts.signups(s.id))
            if (u.status == "signed" && u.offered_at_ms > 0)
              by.push_back({{"person_id", u.person_id}, {"name", u.name}, {"offered_at_ms", u.offered_at_ms}});
          json item = shift_json(s);
          item["offered_by"] = by;
          items.push_back(std::move(item));
        }
        return HttpResponse::json(200, {{"items", items}});
      });

  add("GET", "templates", readers, "Recurring shift templates", [&shifts](const HttpRequest&) {
    json items = json::array();
    for (const auto& t : shifts.templates()) items.push_back(template_json(t));
    return HttpResponse::json(200, {{"items", items}});
  });

  add(
      "POST", "templates", writers,
      "Add a recurring template (every listed weekday, start–end village time); its shifts are made for the "
      "coming weeks at once and then daily",
      [&shifts](const HttpRequest& req) {
        const json b = parse_object(req);
        ShiftTemplate t;
        const auto start = b.contains("start") ? minute_of(b["start"]) : std::nullopt;
        const auto end = b.contains("end") ? minute_of(b["end"]) : std::nullopt;
        const auto capacity = integer_in(b, "capacity", 1, 1000);
        const auto cutoff = b.contains("cutoff_minutes") ? integer_in(b, "cutoff_minutes", 0, 14 * 24 * 60)
                                                         : std::optional<std::int64_t>(0);
        if (!b.contains("post") || !b["post"].is_string() || !b.contains("weekdays") || !b["weekdays"].is_array() ||
            b["weekdays"].size() > 7 || !start || !end || !capacity || !cutoff)
          throw ShiftError("invalid",
                           "需要 post、weekdays、start（如 07:00）、end、capacity / expected post, weekdays, "
                           "start (07:00), end, capacity");
        t.post_code = b["post"].get<std::string>();
        for (const auto& d : b["weekdays"]) {
          const bool day = d.is_number_integer() && d.get<std::int64_t>() >= 1 && d.get<std::int64_t>() <= 7;
          t.weekdays.push_back(day ? static_cast<int>(d.get<std::int64_t>()) : 0);
        }
        t.start_minute = *start;
        t.end_minute = *end;
        t.capacity = static_cast<int>(*capacity);
        t.cutoff_minutes = static_cast<int>(*cutoff);
        return HttpResponse::json(201, template_json(shifts.add_template(t)));
      },
      with(kTemplateRequest, kTemplateSchema, 201));

  add("DELETE", "templates/{id}", writers, "Stop a template making new shifts (those made stay)",
      [&shifts](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id || !shifts.deactivate_template(*id)) throw ShiftError("not_found", "没有这个模板 / no such template");
        return HttpResponse::json(200, {{"id", *id}, {"active", false}});
      });

  add(
      "POST", "rota/preview", writers,
      "Generate the rota for a period and keep it as a draft: assignments, unfilled places, fairness; nothing is "
      "written to the shifts",
      [&shifts, offset](const HttpRequest& req) {
        const json b = parse_object(req);
        return HttpResponse::json(
            200, shifts.preview(required_time(b, "from", offset), required_time(b, "to", offset), req.principal));
      },
      with(kPeriodRequest, kDraftSchema));

  add(
      "GET", "rota/drafts/{id}", readers, "A rota draft, checked again against the shifts as they are now",
      [&shifts](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个排班草稿 / no such rota draft");
        return HttpResponse::json(200, shifts.draft(*id));
      },
      with("", kDraftSchema));

  add(
      "PUT", "rota/drafts/{id}", writers,
      "Adjust a draft: its whole list of assignments, checked (capacity, role, unavailability, rest between "
      "shifts); 422 with the problems when any, and nothing saved",
      [&shifts](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个排班草稿 / no such rota draft");
        const json b = parse_object(req);
        if (!b.contains("assignments") || !b["assignments"].is_array())
          throw ShiftError("invalid", "需要 assignments 数组 / expected an assignments array");
        std::vector<Assignment> list;
        for (const auto& a : b["assignments"]) {
          if (!a.is_object() || !a.contains("shift_id") || !a["shift_id"].is_number_integer() ||
              !a.contains("person_id") || !a["person_id"].is_number_integer())
            throw ShiftError("invalid", "每项需要 shift_id 和 person_id / each item needs shift_id and person_id");
          list.push_back({a["shift_id"].get<std::int64_t>(), a["person_id"].get<std::int64_t>()});
        }
        if (list.size() > 20000) throw ShiftError("invalid", "太多了 / too many assignments");
        json out = shifts.adjust(*id, list);
        return HttpResponse::json(out["problems"].empty() ? 200 : 422, out);
      },
      with(kAdjustRequest, kDraftSchema));

  add(
      "POST", "rota/drafts/{id}/publish", writers,
      "Publish a draft: its sign-ups written in one transaction (a place taken since the preview is skipped), each "
      "person told by a 值班安排 notice; publishing again changes nothing",
      [&shifts](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个排班草稿 / no such rota draft");
        return HttpResponse::json(200, shifts.publish(*id));
      },
      with("", kDraftSchema));

  add(
      "POST", "rota/publish", writers, "Generate and publish the rota for a period in one step (preview + publish)",
      [&shifts, offset](const HttpRequest& req) {
        const json b = parse_object(req);
        const json draft =
            shifts.preview(required_time(b, "from", offset), required_time(b, "to", offset), req.principal);
        return HttpResponse::json(200, shifts.publish(draft["draft_id"].get<std::int64_t>()));
      },
      with(kPeriodRequest, kDraftSchema));

  RouteSpec fair_spec = with("", kFairnessSchema);
  fair_spec.query_params = {{"from", "default: now"}, {"to", "default: from + 28 days"}};
  add(
      "GET", "fairness", readers,
      "Fairness report: hours per person on the shifts of a period (min, max, mean, who is overloaded)",
      [&shifts, offset](const HttpRequest& req) {
        const auto from = query_time(req, "from", shifts.now_ms(), offset);
        const auto to = query_time(req, "to", from + 28LL * 24 * 3600 * 1000, offset);
        return HttpResponse::json(200, shifts.fairness_report(from, to));
      },
      fair_spec);

  add(
      "GET", "persons/{id}/record", readers,
      "A volunteer's record: completed shifts and hours, no-shows, and until when sign-ups are suspended",
      [&shifts, person_of](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个人 / no such person");
        (void)person_of(*id);
        const Record r = shifts.record(*id);
        json upcoming = json::array();
        for (const auto& s : shifts.upcoming_of(*id)) upcoming.push_back(shift_json(s));
        return HttpResponse::json(
            200, {{"person_id", *id},
                  {"completed", r.completed},
                  {"hours", r.hours},
                  {"no_shows", r.no_shows},
                  {"counted_no_shows", r.counted_no_shows},
                  {"suspended_until_ms", r.suspended_until_ms > 0 ? json(r.suspended_until_ms) : json(nullptr)},
                  {"upcoming", upcoming}});
      },
      with("", kRecordSchema));

  add("POST", "persons/{id}/record/clear", writers,
      "Clear a volunteer's no-shows (they no longer count towards the limit): lifts a suspension",
      [&shifts, person_of](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个人 / no such person");
        (void)person_of(*id);
        shifts.clear_no_shows(*id);
        return HttpResponse::json(200, {{"person_id", *id}, {"cleared", true}});
      });

  add("GET", "persons/{id}/unavailability", readers, "A volunteer's declared absences (current and future)",
      [&shifts](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个人 / no such person");
        json items = json::array();
        for (const auto& u : shifts.unavailability(*id))
          items.push_back({{"id", u.id}, {"from_ms", u.from_ms}, {"to_ms", u.to_ms}, {"reason", u.reason}});
        return HttpResponse::json(200, {{"items", items}});
      });

  add(
      "POST", "persons/{id}/unavailability", writers, "Declare a time a volunteer cannot serve; the rota honours it",
      [&shifts, offset](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个人 / no such person");
        const json b = parse_object(req);
        const std::string reason =
            b.contains("reason") && b["reason"].is_string() ? b["reason"].get<std::string>() : "";
        const auto u =
            shifts.add_unavailability(*id, required_time(b, "from", offset), required_time(b, "to", offset), reason);
        return HttpResponse::json(201,
                                  {{"id", u.id}, {"from_ms", u.from_ms}, {"to_ms", u.to_ms}, {"reason", u.reason}});
      },
      with(kUnavailableRequest, "", 201));

  add("DELETE", "unavailability/{id}", writers, "Remove a declared absence", [&shifts](const HttpRequest& req) {
    const auto id = id_of(req);
    if (!id || !shifts.remove_unavailability(*id)) throw ShiftError("not_found", "没有这条记录 / no such absence");
    return HttpResponse::json(200, {{"id", *id}, {"removed", true}});
  });

  RouteSpec ics;
  ics.response_content_type = "text/calendar; charset=utf-8";
  add(
      "GET", "persons/{id}/calendar.ics", {}, "A person's shifts as an iCalendar feed (RFC 5545)",
      [&shifts](const HttpRequest& req) {
        const auto id = id_of(req);
        if (!id) throw ShiftError("not_found", "没有这个人 / no such person");
        return HttpResponse::text(200, shifts.ics_of_person(*id), "text/calendar; charset=utf-8");
      },
      ics);
  add(
      "GET", "posts/{code}/calendar.ics", {}, "A post's shifts as an iCalendar feed (RFC 5545)",
      [&shifts](const HttpRequest& req) {
        if (!shifts.post(req.path_param("code"))) throw ShiftError("not_found", "没有这个岗位 / no such post");
        return HttpResponse::text(200, shifts.ics_of_post(req.path_param("code")), "text/calendar; charset=utf-8");
      },
      ics);
  return regs;
}

}  // namespace villagebot::volunteers
