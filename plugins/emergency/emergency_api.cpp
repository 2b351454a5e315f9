#include "emergency_api.hpp"
#include "plugin_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

namespace villagebot::emergency {

namespace {

using nlohmann::json;

json alert_json(const Alert& a) {
  auto ms = [](std::int64_t v) { return v > 0 ? json(v) : json(nullptr); };
  return {{"id", a.id},
          {"kind", a.kind},
          {"text", a.text},
          {"meeting_point", a.meeting_point},
          {"team", a.team},
          {"responses_needed", a.responses_needed},
          {"drill", a.drill},
          {"status", a.status},
          {"broadcast_id", ms(a.broadcast_id)},
          {"next_step", {{"cycle", a.next_cycle}, {"step", a.next_step}}},
          {"created_by", a.created_by},
          {"created_at_ms", a.created_at_ms},
          {"sent_at_ms", ms(a.sent_at_ms)},
          {"enough_at_ms", ms(a.enough_at_ms)},
          {"stood_down_at_ms", ms(a.stood_down_at_ms)},
          {"stood_down_by", a.stood_down_by}};
}

// Phones in full for those who call people (admin, commander, cadre); masked otherwise.
std::string phone_for(const HttpRequest& req, const std::string& phone) {
  const auto& r = req.principal_role;
  return r == "admin" || r == "commander" || r == "cadre" ? phone : text::mask_phone(phone);
}

// Each person with their group (the org unit's path), so that a roll-call board can be read by
// group without the directory access a commander's token lacks.
json people_json(const HttpRequest& req, Directory& directory, const std::vector<Person>& people) {
  std::map<std::int64_t, std::string> groups;
  json out = json::array();
  for (const auto& p : people) {
    auto it = groups.find(p.org_unit_id);
    if (it == groups.end()) {
      const auto unit = directory.org_unit(p.org_unit_id);
      it = groups.emplace(p.org_unit_id, unit ? unit->path : std::string()).first;
    }
    out.push_back({{"person_id", p.id},
                   {"name", p.name},
                   {"phone", phone_for(req, p.phone)},
                   {"household", p.household_code},
                   {"org_unit_id", p.org_unit_id},
                   {"group", it->second}});
  }
  return out;
}

const auto& cell = plugin_support::csv_cell;
using plugin_support::id_of;
using plugin_support::refused;

constexpr const char* kAlertSchema =
    R"json({"type":"object","properties":{"id":{"type":"integer"},"kind":{"type":"string"},"text":{"type":"string"},"meeting_point":{"type":"string"},"team":{"type":"string"},"responses_needed":{"type":"integer"},"drill":{"type":"boolean"},"status":{"type":"string","enum":["sending","active","stood_down"]},"broadcast_id":{"type":["integer","null"]},"next_step":{"type":"object"},"created_by":{"type":"string"},"created_at_ms":{"type":"integer"},"sent_at_ms":{"type":["integer","null"]},"enough_at_ms":{"type":["integer","null"]},"stood_down_at_ms":{"type":["integer","null"]},"stood_down_by":{"type":"string"}}})json";
constexpr const char* kAlertRequest =
    R"json({"type":"object","required":["text"],"properties":{"kind":{"type":"string","description":"防汛, 火情 ... (default 应急)"},"text":{"type":"string"},"meeting_point":{"type":"string"},"team":{"type":"string","description":"a configured team (default: the first)"},"responses_needed":{"type":"integer","description":"escalation stops when this many are coming (default from config)"},"drill":{"type":"boolean","description":"演练: messages marked 【演练】, kept out of the statistics"},"idempotency_key":{"type":"string"}}})json";

}  // namespace

std::vector<Registration> register_emergency_api(RouteRegistry& routes, Alerts& alerts, std::int64_t offset_s) {
  std::vector<Registration> regs;
  auto add = [&](RouteSpec spec) {
    spec.tag = "emergency";
    regs.push_back(routes.add(std::move(spec)));
  };
  const std::vector<std::string> commanders{"commander"};
  const std::vector<std::string> readers{"commander", "cadre", "supervisor"};

  RouteSpec trigger;
  trigger.method = "POST";
  trigger.path = "alerts";
  trigger.roles = commanders;
  trigger.summary = "Mobilise a team: every group chat covering it and an SMS to every member, at once";
  trigger.request_schema = kAlertRequest;
  trigger.response_schema =
      std::string(R"({"type":"object","properties":{"alert":)") + kAlertSchema + R"(,"delivery":{"type":"object"}}})";
  trigger.success_status = 201;
  trigger.handler = [&alerts](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return respond(HttpResponse::error(400, "bad_request", "the body must be a JSON object"));
    static const std::vector<std::string> known{"kind",  "text",           "meeting_point", "team", "responses_needed",
                                                "drill", "idempotency_key"};
    for (const auto& [key, value] : body.items())
      if (std::find(known.begin(), known.end(), key) == known.end())
        return respond(HttpResponse::error(422, "invalid", "unknown field '" + key + "'"));
    AlertRequest r;
    for (const auto& [key, target] :
         std::vector<std::pair<const char*, std::string*>>{{"kind", &r.kind},
                                                           {"text", &r.text},
                                                           {"meeting_point", &r.meeting_point},
                                                           {"team", &r.team},
                                                           {"idempotency_key", &r.idempotency_key}})
      if (body.contains(key)) {
        if (!body[key].is_string())
          return respond(HttpResponse::error(422, "invalid", std::string(key) + " must be a string"));
        *target = body[key].get<std::string>();
      }
    if (body.contains("responses_needed")) {
      if (!body["responses_needed"].is_number_integer() || body["responses_needed"].get<std::int64_t>() < 1 ||
          body["responses_needed"].get<std::int64_t>() > 100000)
        return respond(HttpResponse::error(422, "invalid", "responses_needed must be a whole number from 1"));
      r.responses_needed = body["responses_needed"].get<std::int64_t>();
    }
    if (body.contains("drill")) {
      if (!body["drill"].is_boolean()) return respond(HttpResponse::error(422, "invalid", "drill must be a boolean"));
      r.drill = body["drill"].get<bool>();
    }
    if (r.idempotency_key.empty()) r.idempotency_key = req.header("idempotency-key");
    if (!r.idempotency_key.empty()) r.idempotency_key = "api:" + req.principal + ":" + r.idempotency_key;
    r.commander_person_id = req.principal_person_id;
    r.created_by = req.principal;
    try {
      bool created = false;
      const Alert a = alerts.trigger(std::move(r), &created);
      respond(HttpResponse::json(
          created ? 201 : 200,
          {{"alert", alert_json(a)}, {"delivery", alerts.messenger().broadcast_status(a.broadcast_id)}}));
    } catch (const AlertError& e) {
      respond(refused(e));
    }
  };
  add(std::move(trigger));

  RouteSpec list;
  list.method = "GET";
  list.path = "alerts";
  list.roles = readers;
  list.summary = "Alerts, newest first";
  list.response_schema = std::string(R"({"type":"object","properties":{"items":{"type":"array","items":)") +
                         kAlertSchema + R"(},"total":{"type":"integer"}}})";
  list.handler = [&alerts](const HttpRequest&, const Responder& respond) {
    std::int64_t total = 0;
    json items = json::array();
    for (const auto& a : alerts.list(0, 100, &total)) items.push_back(alert_json(a));
    respond(HttpResponse::json(200, {{"items", items}, {"total", total}}));
  };
  add(std::move(list));

  RouteSpec rollcall;
  rollcall.method = "GET";
  rollcall.path = "alerts/{id}/rollcall";
  rollcall.roles = readers;
  rollcall.summary = "Roll call: who is coming, who cannot, who has not answered (点名)";
  rollcall.handler = [&alerts](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    if (!id) return respond(HttpResponse::error(404, "not_found", "no such alert"));
    try {
      const auto rc = alerts.roll_call(*id);
      respond(HttpResponse::json(200, {{"alert", alert_json(rc.alert)},
                                       {"counts",
                                        {{"coming", rc.coming.size()},
                                         {"cannot", rc.cannot.size()},
                                         {"no_answer", rc.no_answer.size()},
                                         {"needed", rc.alert.responses_needed}}},
                                       {"coming", people_json(req, alerts.directory(), rc.coming)},
                                       {"cannot", people_json(req, alerts.directory(), rc.cannot)},
                                       {"no_answer", people_json(req, alerts.directory(), rc.no_answer)}}));
    } catch (const AlertError& e) {
      respond(refused(e));
    }
  };
  add(std::move(rollcall));

  RouteSpec detail;
  detail.method = "GET";
  detail.path = "alerts/{id}";
  detail.roles = readers;
  detail.summary = "An alert with its delivery (the broadcast's counts by status and channel)";
  detail.handler = [&alerts](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    const auto a = id ? alerts.get(*id) : std::nullopt;
    if (!a) return respond(HttpResponse::error(404, "not_found", "no such alert"));
    respond(HttpResponse::json(
        200,
        {{"alert", alert_json(*a)},
         {"delivery", a->broadcast_id > 0 ? alerts.messenger().broadcast_status(a->broadcast_id) : json(nullptr)}}));
  };
  add(std::move(detail));

  RouteSpec stand_down;
  stand_down.method = "POST";
  stand_down.path = "alerts/{id}/stand-down";
  stand_down.roles = commanders;
  stand_down.summary = "Stand down (解除): everyone alerted is told; escalation stops; later answers are not counted";
  stand_down.response_schema = kAlertSchema;
  stand_down.handler = [&alerts](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    if (!id) return respond(HttpResponse::error(404, "not_found", "no such alert"));
    try {
      respond(HttpResponse::json(200, alert_json(alerts.stand_down(*id, req.principal))));
    } catch (const AlertError& e) {
      respond(refused(e));
    }
  };
  add(std::move(stand_down));

  RouteSpec timeline;
  timeline.method = "GET";
  timeline.path = "alerts/{id}/timeline";
  timeline.roles = readers;
  timeline.summary = "The timeline for the after-action review: triggered, sent, delivered, answered, escalated";
  timeline.handler = [&alerts](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    if (!id || !alerts.get(*id)) return respond(HttpResponse::error(404, "not_found", "no such alert"));
    json items = json::array();
    for (const auto& e : alerts.timeline(*id))
      items.push_back({{"at_ms", e.at_ms},
                       {"event", e.event},
                       {"person_id", e.person_id > 0 ? json(e.person_id) : json(nullptr)},
                       {"detail", e.detail}});
    respond(HttpResponse::json(200, {{"items", items}}));
  };
  add(std::move(timeline));

  RouteSpec csv;
  csv.method = "GET";
  csv.path = "alerts/{id}/timeline.csv";
  csv.roles = readers;
  csv.summary = "The timeline as CSV (时间,事件,姓名,手机,说明), UTF-8 with BOM";
  csv.response_content_type = "text/csv; charset=utf-8";
  csv.handler = [&alerts, offset_s](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    if (!id || !alerts.get(*id)) return respond(HttpResponse::error(404, "not_found", "no such alert"));
    const auto events = alerts.timeline(*id);
    std::vector<std::int64_t> ids;
    for (const auto& e : events)
      if (e.person_id > 0) ids.push_back(e.person_id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::map<std::int64_t, Person> people;
    for (auto& p : alerts.directory().persons(ids)) people[p.id] = std::move(p);
    std::string out = "\xEF\xBB\xBF时间,事件,姓名,手机,说明\r\n";
    for (const auto& e : events) {
      const auto it = people.find(e.person_id);
      out += plugin_support::local_time(e.at_ms, offset_s, true) + "," + cell(e.event) + "," +
             cell(it == people.end() ? "" : it->second.name) + "," +
             cell(it == people.end() ? "" : phone_for(req, it->second.phone)) + "," + cell(e.detail) + "\r\n";
    }
    auto res = HttpResponse::text(200, std::move(out), "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"alert-" + std::to_string(*id) + ".csv\"");
    respond(std::move(res));
  };
  add(std::move(csv));

  RouteSpec stats;
  stats.method = "GET";
  stats.path = "stats";
  stats.roles = readers;
  stats.summary = "Alerts, members alerted, turnout, minutes to enough — drills only with include_drills=true";
  stats.query_params = {{"include_drills", "true to count drills too", "boolean"}};
  stats.handler = [&alerts](const HttpRequest& req, const Responder& respond) {
    respond(HttpResponse::json(200, alerts.stats(req.query_param("include_drills") == "true")));
  };
  add(std::move(stats));

  RouteSpec teams;
  teams.method = "GET";
  teams.path = "teams";
  teams.roles = readers;
  teams.summary = "The teams from the config and the escalation policy";
  teams.handler = [&alerts](const HttpRequest&, const Responder& respond) {
    json items = json::array();
    for (const auto& t : alerts.policy().teams)
      items.push_back({{"name", t.name},
                       {"roles", t.roles},
                       {"units", t.units},
                       {"members", alerts.directory().resolve(alerts.team_audience(t.name)).size()}});
    json steps = json::array();
    for (const auto& s : alerts.policy().steps) steps.push_back({{"after_s", s.after_s}, {"action", s.action}});
    respond(HttpResponse::json(200, {{"teams", items},
                                     {"escalation", steps},
                                     {"repeat", alerts.policy().repeat},
                                     {"responses_needed", alerts.policy().responses_needed}}));
  };
  add(std::move(teams));
  return regs;
}

}  // namespace villagebot::emergency
