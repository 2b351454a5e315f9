#include "opinions_api.hpp"

#include <algorithm>

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

std::string cell(const std::string& v) {
  std::string s = !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') ? "'" + v : v;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

HttpResponse refused(const TicketError& e) {
  const int status = e.code() == "not_found" ? 404 : e.code() == "conflict" ? 409 : e.code() == "forbidden" ? 403 : 422;
  return HttpResponse::error(status, e.code(), e.what());
}

constexpr const char* kTicketSchema =
    R"json({"type":"object","properties":{"number":{"type":"string"},"kind":{"type":"string"},"category":{"type":"string"},"text":{"type":"string"},"sender":{"type":"object","description":"only {anonymous:true} for an anonymous ticket unless the caller is a supervisor"},"org_unit":{"type":["string","null"]},"assignee_person_id":{"type":["integer","null"]},"level":{"type":"integer"},"status":{"type":"string","enum":["open","answered"]},"sla_due_ms":{"type":"integer"},"created_at_ms":{"type":"integer"},"answer":{"type":["string","null"]},"answered_by":{"type":"string"},"answered_at_ms":{"type":["integer","null"]},"rating":{"type":["string","null"],"enum":["satisfied","unsatisfied",null]}}})json";

}  // namespace

std::vector<Registration> register_opinions_api(RouteRegistry& routes, Tickets& tickets) {
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
    const std::int64_t assignee =
        req.query_param("mine") == "true" ? std::max<std::int64_t>(req.principal_person_id, 1) : 0;
    for (const auto& t : tickets.list(req.query_param("status"), assignee, 0, 200, &total))
      items.push_back(ticket_json(tickets, req, t));
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
    for (std::int64_t offset = 0;; offset += 1000) {
      const auto page = tickets.list("", 0, offset, 1000);
      for (const auto& t : page) {
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
    if (!t) return respond(HttpResponse::error(404, "not_found", "no such ticket"));
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
    // A group leader answers only what is assigned to them; a cadre or admin anything.
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
  return regs;
}

}  // namespace villagebot::opinions
