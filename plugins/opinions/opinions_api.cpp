#include "opinions_api.hpp"
#include "plugin_support.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

namespace villagebot::opinions {

namespace {

using nlohmann::json;

// The sender of a ticket as this caller may see it: an anonymous ticket's sender only for
// supervisors (村务监督委员会); phones in full for supervisors, admins and cadres.
json sender_json(Tickets& tickets, const HttpRequest& req, const Ticket& t) {
  const bool supervisor = req.principal_role == "supervisor";
  if (t.anonymous && !supervisor) return {{"anonymous", true}};
  const auto p = tickets.directory().person(t.person_id);
  if (!p) return {{"anonymous", t.anonymous}, {"person_id", t.person_id}};
  const bool full = supervisor || req.principal_role == "admin" || req.principal_role == "cadre";
  return {{"anonymous", t.anonymous},
          {"person_id", p->id},
          {"name", p->name},
          {"household", p->household_code},
          {"phone", full ? p->phone : text::mask_phone(p->phone)}};
}

json ticket_json(Tickets& tickets, const HttpRequest& req, const Ticket& t) {
  auto ms = [](std::int64_t v) { return v > 0 ? json(v) : json(nullptr); };
  json unit = nullptr;
  if (auto u = tickets.directory().org_unit(t.org_unit_id)) unit = u->path;
  return {{"number", t.number},
          {"kind", t.kind},
          {"category", t.category},
          {"text", t.text},
          {"sender", sender_json(tickets, req, t)},
          {"org_unit", unit},
          {"assignee_person_id", ms(t.assignee_person_id)},
          {"level", t.level},
          {"status", t.status},
          {"sla_due_ms", t.sla_due_ms},
          {"created_at_ms", t.created_at_ms},
          {"answer", t.answer.empty() ? json(nullptr) : json(t.answer)},
          {"answered_by", t.answered_by},
          {"answered_at_ms", ms(t.answered_at_ms)},
          {"rating", t.rating.empty() ? json(nullptr) : json(t.rating)}};
}

const auto& cell = plugin_support::csv_cell;
using plugin_support::refused;

constexpr const char* kTicketSchema =
    R"json({"type":"object","properties":{"number":{"type":"string"},"kind":{"type":"string"},"category":{"type":"string"},"text":{"type":"string"},"sender":{"type":"object","description":"only {anonymous:true} for an anonymous ticket unless the caller is a supervisor"},"org_unit":{"type":["string","null"]},"assignee_person_id":{"type":["integer","null"]},"level":{"type":"integer"},"status":{"type":"string","enum":["open","answered"]},"sla_due_ms":{"type":"integer"},"created_at_ms":{"type":"integer"},"answer":{"type":["string","null"]},"answered_by":{"type":"string"},"answered_at_ms":{"type":["integer","null"]},"rating":{"type":["string","null"],"enum":["satisfied","unsatisfied",null]}}})json";

// A cadre's token that acts for a person reaches the tickets and the people of the units that
// person answers for (四包一联), with their sub-units, and no further (docs/API.md "Roles and
// scope"); a cadre token without a person, or whose person answers for the village or for no
// unit, reaches the whole village. Other roles are not narrowed here.
class CadreScope {
 public:
  CadreScope(const HttpRequest& req, Directory& directory) : directory_(directory) {
    if (req.principal_role == "cadre") units_ = plugin_support::scope_units(directory, req.principal_person_id);
  }
  [[nodiscard]] bool everywhere() const { return units_.empty(); }
  [[nodiscard]] bool contains_unit(std::int64_t unit_id) {
    if (everywhere()) return true;
    auto it = known_.find(unit_id);
    if (it != known_.end()) return it->second;
    bool inside = false;
    if (const auto unit = directory_.org_unit(unit_id))
      for (const auto& u : units_)
        if (unit->path == u.path || unit->path.starts_with(u.path + "/")) inside = true;
    known_.emplace(unit_id, inside);
    return inside;
  }
  // How many of the audience's people are outside the scope.
  [[nodiscard]] std::int64_t outside(const Audience& audience) {
    return plugin_support::outside_scope(directory_, units_, audience);
  }
  [[nodiscard]] std::string names() const { return plugin_support::unit_names(units_); }
  [[nodiscard]] HttpResponse refusal() const {
    return HttpResponse::error(
        403, "out_of_scope",
        "这条意见不在您负责的范围（" + names() + "）内 / this ticket is outside your units (" + names() + ")");
  }

 private:
  Directory& directory_;
  std::vector<OrgUnit> units_;
  std::map<std::int64_t, bool> known_;
};

}  // namespace

std::vector<Registration> register_opinions_api(RouteRegistry& routes, Tickets& tickets, Polls& polls,
                                                Proposals& proposals) {
  std::vector<Registration> regs;
  auto add = [&](RouteSpec spec) {
    spec.tag = "opinions";
    regs.push_back(routes.add(std::move(spec)));
  };
  const std::vector<std::string> readers{"cadre", "supervisor", "group_leader"};

  RouteSpec list;
  list.method = "GET";
  list.path = "tickets";
  list.roles = readers;
  list.summary = "Opinion tickets, newest first (a token acting for a person: ?mine=true lists those assigned to them)";
  list.query_params = {{"status", "open or answered"}, {"mine", "true: assigned to the token's person", "boolean"}};
  list.response_schema = std::string(R"({"type":"object","properties":{"items":{"type":"array","items":)") +
                         kTicketSchema + R"(},"total":{"type":"integer"}}})";
  list.handler = [&tickets](const HttpRequest& req, const Responder& respond) {
    std::int64_t total = 0;
    json items = json::array();
    const bool mine = req.query_param("mine") == "true";
    // "Mine" needs a token that acts for a person; without one it used to list person 1's tickets.
    if (mine && req.principal_person_id <= 0)
      return respond(
          HttpResponse::error(422, "invalid",
                              "mine=true 需要代表某人的令牌（token create --person）/ mine=true needs a token "
                              "that acts for a person (token create --person)"));
    const std::int64_t assignee = mine ? req.principal_person_id : 0;
    CadreScope scope(req, tickets.directory());
    if (scope.everywhere()) {
      for (const auto& t : tickets.list(req.query_param("status"), assignee, 0, 200, &total))
        items.push_back(ticket_json(tickets, req, t));
    } else {
      for (std::int64_t offset = 0;; offset += 1000) {
        const auto page = tickets.list(req.query_param("status"), assignee, offset, 1000);
        for (const auto& t : page) {
          if (!scope.contains_unit(t.org_unit_id)) continue;
          if (++total <= 200) items.push_back(ticket_json(tickets, req, t));
        }
        if (page.size() < 1000) break;
      }
    }
    respond(HttpResponse::json(200, {{"items", items}, {"total", total}}));
  };
  add(std::move(list));

  RouteSpec csv;
  csv.method = "GET";
  csv.path = "tickets.csv";
  csv.roles = readers;
  csv.summary =
      "Every ticket as CSV (编号,类别,组,提出人,内容,状态,答复人,答复,评价); anonymous senders hidden but "
      "from supervisors";
  csv.response_content_type = "text/csv; charset=utf-8";
  csv.handler = [&tickets](const HttpRequest& req, const Responder& respond) {
    std::string out = "\xEF\xBB\xBF编号,类别,组,提出人,内容,状态,答复人,答复,评价\r\n";
    CadreScope scope(req, tickets.directory());
    for (std::int64_t offset = 0;; offset += 1000) {
      const auto page = tickets.list("", 0, offset, 1000);
      for (const auto& t : page) {
        if (!scope.contains_unit(t.org_unit_id)) continue;
        const json s = sender_json(tickets, req, t);
        std::string unit;
        if (auto u = tickets.directory().org_unit(t.org_unit_id)) unit = u->path;
        out += cell(t.number) + "," + cell(t.category) + "," + cell(unit) + "," +
               cell(s.contains("name") ? s["name"].get<std::string>() : std::string("匿名")) + "," + cell(t.text) +
               "," + (t.status == "answered" ? "已答复" : "处理中") + "," + cell(t.answered_by) + "," + cell(t.answer) +
               "," +
               (t.rating == "satisfied"     ? "满意"
                : t.rating == "unsatisfied" ? "不满意"
                                            : "") +
               "\r\n";
      }
      if (page.size() < 1000) break;
    }
    auto res = HttpResponse::text(200, std::move(out), "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"tickets.csv\"");
    respond(std::move(res));
  };
  add(std::move(csv));

  RouteSpec detail;
  detail.method = "GET";
  detail.path = "tickets/{number}";
  detail.roles = readers;
  detail.summary = "One ticket (YJ-2026-0042)";
  detail.response_schema = kTicketSchema;
  detail.handler = [&tickets](const HttpRequest& req, const Responder& respond) {
    const auto t = tickets.by_number(req.path_param("number"));
    if (!t) return respond(HttpResponse::error(404, "not_found", "没有这条意见 / no such ticket"));
    CadreScope scope(req, tickets.directory());
    if (!scope.contains_unit(t->org_unit_id)) return respond(scope.refusal());
    respond(HttpResponse::json(200, ticket_json(tickets, req, *t)));
  };
  add(std::move(detail));

  RouteSpec answer;
  answer.method = "POST";
  answer.path = "tickets/{number}/answer";
  answer.roles = {"cadre", "group_leader"};
  answer.summary =
      "Answer a ticket ({\"text\"}); the villager receives it. A token acting for a person answers as them";
  answer.request_schema = R"({"type":"object","required":["text"],"properties":{"text":{"type":"string"}}})";
  answer.response_schema = kTicketSchema;
  answer.handler = [&tickets](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("text") || !body["text"].is_string())
      return respond(HttpResponse::error(400, "bad_request", "expected {\"text\": string}"));
    Person by;
    if (req.principal_person_id > 0)
      if (auto p = tickets.directory().person(req.principal_person_id)) by = *p;
    if (by.name.empty()) by.name = req.principal;
    // A group leader answers only what is assigned to them; a cadre anything in their units; an
    // admin anything.
    CadreScope scope(req, tickets.directory());
    if (!scope.everywhere()) {
      const auto t = tickets.by_number(req.path_param("number"));
      if (t && !scope.contains_unit(t->org_unit_id)) return respond(scope.refusal());
    }
    const bool any = req.principal_role == "cadre" || req.principal_role == "admin";
    try {
      respond(HttpResponse::json(
          200, ticket_json(tickets, req,
                           tickets.answer(req.path_param("number"), by, body["text"].get<std::string>(), any))));
    } catch (const TicketError& e) {
      respond(refused(e));
    }
  };
  add(std::move(answer));

  RouteSpec satisfaction;
  satisfaction.method = "GET";
  satisfaction.path = "satisfaction";
  satisfaction.roles = readers;
  satisfaction.summary = "效果共评: tickets, answered, satisfied and unsatisfied per org unit and per handler";
  satisfaction.handler = [&tickets](const HttpRequest&, const Responder& respond) {
    respond(HttpResponse::json(200, tickets.satisfaction()));
  };
  add(std::move(satisfaction));

  RouteSpec create;
  create.method = "POST";
  create.path = "polls";
  create.roles = {"cadre"};
  create.summary = "Create a poll: announced to its audience as a notice, closed at the deadline with the results";
  create.request_schema =
      R"json({"type":"object","required":["question","options","audience","deadline"],"properties":{"question":{"type":"string"},"options":{"type":"array","items":{"type":"string"},"minItems":2,"maxItems":9},"audience":{"type":"object"},"per_household":{"type":"boolean","description":"one vote per household (default true), else per person"},"anonymous":{"type":"boolean"},"deadline":{"type":"integer","description":"unix ms"}}})json";
  create.success_status = 201;
  create.handler = [&polls, &tickets](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) return respond(HttpResponse::error(400, "bad_request", "the body must be a JSON object"));
    PollRequest r;
    try {
      for (const auto& [key, value] : body.items())
        if (key != "question" && key != "options" && key != "audience" && key != "per_household" &&
            key != "anonymous" && key != "deadline")
          throw TicketError("invalid", "unknown field '" + key + "'");
      if (!body.contains("question") || !body["question"].is_string())
        throw TicketError("invalid", "question must be a string");
      r.question = body["question"].get<std::string>();
      if (!body.contains("options") || !body["options"].is_array())
        throw TicketError("invalid", "options must be an array of strings");
      for (const auto& o : body["options"]) {
        if (!o.is_string()) throw TicketError("invalid", "options must be an array of strings");
        r.options.push_back(o.get<std::string>());
      }
      if (!body.contains("audience")) throw TicketError("invalid", "audience is required");
      try {
        r.audience = audience_from_json(body["audience"]);
      } catch (const std::exception& e) {
        throw TicketError("invalid", std::string("audience: ") + e.what());
      }
      if (!body.contains("deadline") || !body["deadline"].is_number_integer())
        throw TicketError("invalid", "deadline must be unix milliseconds");
      r.deadline_ms = body["deadline"].get<std::int64_t>();
      for (const char* flag : {"per_household", "anonymous"})
        if (body.contains(flag)) {
          if (!body[flag].is_boolean()) throw TicketError("invalid", std::string(flag) + " must be a boolean");
          (std::string_view(flag) == "per_household" ? r.per_household : r.anonymous) = body[flag].get<bool>();
        }
      r.created_by = req.principal;
      // A scoped cadre asks only the people of their own units.
      CadreScope scope(req, tickets.directory());
      if (const auto n = scope.outside(r.audience); n > 0)
        return respond(HttpResponse::error(
            403, "out_of_scope",
            "投票对象中有 " + std::to_string(n) + " 人不在您负责的范围（" + scope.names() + "）内 / " +
                std::to_string(n) + " persons in the audience are outside your units (" + scope.names() + ")"));
      const Poll p = polls.create(std::move(r));
      respond(HttpResponse::json(201, {{"code", p.code}, {"id", p.id}, {"results", polls.results(p.id)}}));
    } catch (const TicketError& e) {
      respond(refused(e));
    }
  };
  add(std::move(create));

  RouteSpec poll_list;
  poll_list.method = "GET";
  poll_list.path = "polls";
  poll_list.roles = readers;
  poll_list.summary = "Polls, newest first";
  poll_list.handler = [&polls](const HttpRequest&, const Responder& respond) {
    json items = json::array();
    for (const auto& p : polls.list(100))
      items.push_back({{"code", p.code},
                       {"question", p.question},
                       {"options", p.options},
                       {"per_household", p.per_household},
                       {"anonymous", p.anonymous},
                       {"deadline_ms", p.deadline_ms},
                       {"status", p.status},
                       {"created_by", p.created_by}});
    respond(HttpResponse::json(200, {{"items", items}}));
  };
  add(std::move(poll_list));

  RouteSpec results;
  results.method = "GET";
  results.path = "polls/{code}/results";
  results.roles = readers;
  results.summary = "Counts per option, voters, eligible, turnout overall and by org unit (live until the close)";
  results.handler = [&polls](const HttpRequest& req, const Responder& respond) {
    const auto p = polls.by_code(req.path_param("code"));
    if (!p) return respond(HttpResponse::error(404, "not_found", "没有这个投票 / no such poll"));
    respond(
        HttpResponse::json(200, p->status == "closed" && p->results.is_object() ? p->results : polls.results(p->id)));
  };
  add(std::move(results));

  RouteSpec named;
  named.method = "GET";
  named.path = "polls/{code}/votes";
  named.roles = readers;
  named.summary = "Who voted what in a named poll (person, household, option, time); 403 for an anonymous poll";
  named.handler = [&polls](const HttpRequest& req, const Responder& respond) {
    const auto p = polls.by_code(req.path_param("code"));
    if (!p) return respond(HttpResponse::error(404, "not_found", "没有这个投票 / no such poll"));
    if (p->anonymous)
      return respond(HttpResponse::error(403, "anonymous", "the poll is anonymous: no one sees who voted what"));
    respond(HttpResponse::json(200, {{"items", polls.votes(p->id)}}));
  };
  add(std::move(named));

  RouteSpec results_csv;
  results_csv.method = "GET";
  results_csv.path = "polls/{code}/results.csv";
  results_csv.roles = readers;
  results_csv.summary = "The results as CSV: 选项,票数 then 组,应投,已投,参与率";
  results_csv.response_content_type = "text/csv; charset=utf-8";
  results_csv.handler = [&polls](const HttpRequest& req, const Responder& respond) {
    const auto p = polls.by_code(req.path_param("code"));
    if (!p) return respond(HttpResponse::error(404, "not_found", "没有这个投票 / no such poll"));
    const json r = p->status == "closed" && p->results.is_object() ? p->results : polls.results(p->id);
    std::string out = "\xEF\xBB\xBF序号,选项,票数\r\n";
    for (const auto& o : r["options"])
      out += std::to_string(o["n"].get<int>()) + "," + cell(o["text"].get<std::string>()) + "," +
             std::to_string(o["votes"].get<std::int64_t>()) + "\r\n";
    out += "\r\n组,应投,已投,参与率\r\n";
    for (const auto& u : r["by_unit"]) {
      char rate[16];
      std::snprintf(rate, sizeof rate, "%.1f%%", u["turnout"].get<double>() * 100);
      out += cell(u["unit"].get<std::string>()) + "," + std::to_string(u["eligible"].get<std::int64_t>()) + "," +
             std::to_string(u["voted"].get<std::int64_t>()) + "," + rate + "\r\n";
    }
    auto res = HttpResponse::text(200, std::move(out), "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + p->code + "-results.csv\"");
    respond(std::move(res));
  };
  add(std::move(results_csv));

  RouteSpec close;
  close.method = "POST";
  close.path = "polls/{code}/close";
  close.roles = {"cadre"};
  close.summary = "Close a poll now: the results are stored and published as a notice";
  close.handler = [&polls](const HttpRequest& req, const Responder& respond) {
    const auto p = polls.by_code(req.path_param("code"));
    if (!p) return respond(HttpResponse::error(404, "not_found", "没有这个投票 / no such poll"));
    if (p->status == "closed")
      return respond(HttpResponse::error(409, "conflict", "投票已经结束 / the poll is closed already"));
    polls.close(p->id);
    respond(HttpResponse::json(200, polls.by_code(p->code)->results));
  };
  add(std::move(close));

  // 四议两公开
  auto proposal_id = [](const HttpRequest& req) -> std::int64_t {
    const std::string v = req.path_param("id");
    if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
    return std::stoll(v);
  };
  RouteSpec propose;
  propose.method = "POST";
  propose.path = "proposals";
  propose.roles = {"cadre"};
  propose.summary = "Start a 四议两公开 proposal ({\"title\",\"description\"}): stage 0 党支部提议 comes next";
  propose.success_status = 201;
  propose.handler = [&proposals](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("title") || !body["title"].is_string() ||
        (body.contains("description") && !body["description"].is_string()))
      return respond(HttpResponse::error(400, "bad_request", "expected {\"title\": string, \"description\": string}"));
    try {
      respond(HttpResponse::json(
          201, proposal_json(proposals.create(body["title"].get<std::string>(),
                                              body.value("description", std::string()), req.principal))));
    } catch (const TicketError& e) {
      respond(refused(e));
    }
  };
  add(std::move(propose));

  RouteSpec proposal_list;
  proposal_list.method = "GET";
  proposal_list.path = "proposals";
  proposal_list.roles = readers;
  proposal_list.summary = "四议两公开 proposals with every stage recorded, newest first";
  proposal_list.handler = [&proposals](const HttpRequest&, const Responder& respond) {
    json items = json::array();
    for (const auto& p : proposals.list(100)) items.push_back(proposal_json(p));
    respond(HttpResponse::json(200, {{"items", items}}));
  };
  add(std::move(proposal_list));

  RouteSpec proposal;
  proposal.method = "GET";
  proposal.path = "proposals/{id}";
  proposal.roles = readers;
  proposal.summary =
      "A proposal: its stages (党支部提议, 两委会商议, 党员大会审议, 村民代表会议决议, 决议公开, 实施结果公开)";
  proposal.handler = [&proposals, proposal_id](const HttpRequest& req, const Responder& respond) {
    const auto p = proposals.get(proposal_id(req));
    if (!p) return respond(HttpResponse::error(404, "not_found", "no such proposal"));
    respond(HttpResponse::json(200, proposal_json(*p)));
  };
  add(std::move(proposal));

  RouteSpec stage;
  stage.method = "POST";
  stage.path = "proposals/{id}/stages/{stage}";
  stage.roles = {"cadre"};
  stage.summary =
      "Record a deliberation stage (0–3) in order: {\"passed\": bool, \"note\"} or, for stage 3, "
      "{\"poll\": \"P3\"} (a closed poll of the representatives decides: its first option, 同意, by "
      "more than half)";
  stage.handler = [&proposals, proposal_id](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    const std::string n = req.path_param("stage");
    if (!body.is_object() || n.size() != 1 || n[0] < '0' || n[0] > '9')
      return respond(HttpResponse::error(400, "bad_request", "expected {\"passed\": bool, \"note\": string}"));
    const bool has_poll = body.contains("poll") && body["poll"].is_string();
    if (!has_poll && (!body.contains("passed") || !body["passed"].is_boolean()))
      return respond(HttpResponse::error(400, "bad_request", "passed (true or false) or poll is required"));
    try {
      respond(HttpResponse::json(200, proposal_json(proposals.decide(
                                          proposal_id(req), n[0] - '0', has_poll ? false : body["passed"].get<bool>(),
                                          body.value("note", std::string()),
                                          has_poll ? body["poll"].get<std::string>() : std::string(), req.principal))));
    } catch (const TicketError& e) {
      respond(refused(e));
    } catch (const json::exception&) {
      respond(HttpResponse::error(400, "bad_request", "note must be a string"));
    }
  };
  add(std::move(stage));

  RouteSpec disclose;
  disclose.method = "POST";
  disclose.path = "proposals/{id}/disclosures/{stage}";
  disclose.roles = {"cadre"};
  disclose.summary =
      "两公开: stage 4 决议公开 (after the resolution passed) or 5 实施结果公开 (after 4), published "
      "as a notice of that category; {\"body\", \"audience\"} (default everyone)";
  disclose.handler = [&proposals, proposal_id](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    const std::string n = req.path_param("stage");
    if (!body.is_object() || !body.contains("body") || !body["body"].is_string() || n.size() != 1 || n[0] < '0' ||
        n[0] > '9')
      return respond(HttpResponse::error(400, "bad_request", "expected {\"body\": string, \"audience\": {...}}"));
    try {
      Audience audience;
      audience.everyone = true;
      if (body.contains("audience")) {
        try {
          audience = audience_from_json(body["audience"]);
        } catch (const std::exception& e) {
          throw TicketError("invalid", std::string("audience: ") + e.what());
        }
      }
      respond(HttpResponse::json(
          200, proposal_json(proposals.disclose(proposal_id(req), n[0] - '0', body["body"].get<std::string>(), audience,
                                                req.principal))));
    } catch (const TicketError& e) {
      respond(refused(e));
    }
  };
  add(std::move(disclose));
  return regs;
}

}  // namespace villagebot::opinions
