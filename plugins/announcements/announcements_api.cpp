#include "announcements_api.hpp"
#include "plugin_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "villagebot/text.hpp"

namespace villagebot::announcements {

namespace {

using nlohmann::json;

json notice_json(const Notice& n) {
  auto ms = [](std::int64_t v) { return v > 0 ? json(v) : json(nullptr); };
  return {{"id", n.id},
          {"title", n.title},
          {"body", n.body},
          {"body_en", n.body_en},
          {"category", n.category},
          {"audience", audience_to_json(n.audience)},
          {"policy", policy_name(n.policy)},
          {"priority", n.urgent ? "urgent" : "normal"},
          {"ask_ack", n.ask_ack},
          {"scheduled_at_ms", ms(n.scheduled_at_ms)},
          {"expires_at_ms", ms(n.expires_at_ms)},
          {"reminder_after_s", n.reminder_after_s},
          {"status", n.status},
          {"broadcast_id", ms(n.broadcast_id)},
          {"reminder_broadcast_id", ms(n.reminder_broadcast_id)},
          {"source", n.source},
          {"created_by", n.created_by},
          {"created_at_ms", n.created_at_ms},
          {"sent_at_ms", ms(n.sent_at_ms)},
          {"reminded_at_ms", ms(n.reminded_at_ms)},
          {"reminded_persons", n.reminded_persons},
          {"cancelled_at_ms", ms(n.cancelled_at_ms)},
          {"cancelled_by", n.cancelled_by}};
}

json plan_json(const DeliveryPlan& p) {
  return {{"persons", p.persons},
          {"group_posts", p.group_posts},
          {"covered_by_groups", p.covered_by_groups},
          {"personal_chats", p.personal_chats},
          {"sms", p.sms},
          {"sms_segments", p.sms_segments},
          {"opted_out", p.opted_out},
          {"unreachable", p.unreachable},
          {"estimated_cost", p.estimated_cost}};
}

const auto& cell = plugin_support::csv_cell;
using plugin_support::id_of;
using plugin_support::int_param;
using plugin_support::refused;

// Phones in full for admins and cadres (they call people); masked for everyone else.
std::string phone_for(const HttpRequest& req, const std::string& phone) {
  return req.principal_role == "admin" || req.principal_role == "cadre" ? phone : text::mask_phone(phone);
}

const char* status_zh(const std::string& s) {
  if (s == "acknowledged") return "已确认";
  if (s == "delivered") return "已送达";
  if (s == "sent") return "已发出";
  if (s == "queued" || s == "sending") return "待发送";
  if (s == "failed") return "发送失败";
  if (s == "expired") return "已过期";
  if (s == "cancelled") return "已撤回";
  if (s == "opted_out") return "已退订";
  if (s == "unreachable") return "无法送达";
  return "";
}

const char* via_zh(const std::string& v) {
  if (v == "group") return "群消息";
  if (v == "personal") return "私聊";
  if (v == "sms") return "短信";
  return "";
}

struct ParsedBody {
  NoticeDraft draft;
  bool dry_run = false;
};

std::string string_field(const json& body, const char* key) {
  if (!body.contains(key)) return {};
  if (!body[key].is_string())
    throw NoticeError("invalid", std::string(key) + " 必须是文本 / " + key + " must be a string");
  return body[key].get<std::string>();
}

std::int64_t time_field(const json& body, const char* key, std::int64_t offset_s) {
  if (!body.contains(key) || body[key].is_null()) return 0;
  const json& v = body[key];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string())
    if (auto t = parse_time(v.get<std::string>(), offset_s)) return *t;
  throw NoticeError("invalid", std::string(key) + " 不是有效的时间 / " + key +
                                   " must be a time like 2026-11-29T08:00:00+08:00 or unix milliseconds");
}

NoticeDraft draft_from(const json& body, const AnnouncementsApiDeps& d, const HttpRequest& req) {
  if (!body.is_object()) throw NoticeError("invalid", "请求体必须是 JSON 对象 / the body must be a JSON object");
  static const std::vector<std::string> known{"title",
                                              "body",
                                              "body_en",
                                              "category",
                                              "audience",
                                              "policy",
                                              "priority",
                                              "ask_ack",
                                              "scheduled_at",
                                              "expires_at",
                                              "reminder_after_hours",
                                              "template",
                                              "variables",
                                              "idempotency_key"};
  for (const auto& [key, value] : body.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw NoticeError("invalid", "未知字段 '" + key + "' / unknown field '" + key + "'");
  NoticeDraft n;
  std::map<std::string, std::string> variables;
  if (body.contains("variables")) {
    if (!body["variables"].is_object())
      throw NoticeError("invalid", "variables 必须是对象 / variables must be an object of strings");
    for (const auto& [k, v] : body["variables"].items()) {
      if (!v.is_string()) throw NoticeError("invalid", "variables." + k + " 必须是文本 / must be a string");
      variables[k] = v.get<std::string>();
    }
  }
  const std::string template_code = string_field(body, "template");
  if (!template_code.empty()) {
    const auto it = std::find_if(d.templates.begin(), d.templates.end(),
                                 [&](const Template& t) { return t.code == template_code; });
    if (it == d.templates.end())
      throw NoticeError("invalid", "没有模板 " + template_code + " / no template " + template_code);
    n.title = d.notices.render(it->title, variables);
    n.body = d.notices.render(it->body, variables);
    n.body_en = it->body_en.empty() ? "" : d.notices.render(it->body_en, variables);
    n.category = it->category;
  }
  // Texts are templates only when the request gives a template or variables.
  const bool templated = !template_code.empty() || !variables.empty();
  auto text = [&](const char* key) {
    const std::string v = string_field(body, key);
    return templated ? d.notices.render(v, variables) : v;
  };
  if (body.contains("title")) n.title = text("title");
  if (body.contains("body")) n.body = text("body");
  if (body.contains("body_en")) n.body_en = text("body_en");
  if (body.contains("category")) n.category = string_field(body, "category");
  if (!body.contains("audience")) throw NoticeError("invalid", "缺少通知对象 audience / audience is required");
  try {
    n.audience = audience_from_json(body["audience"]);
  } catch (const std::exception& e) {
    throw NoticeError("invalid", std::string("audience: ") + e.what());
  }
  n.policy = d.default_policy;
  if (body.contains("policy")) {
    auto p = policy_from(string_field(body, "policy"));
    if (!p)
      throw NoticeError("invalid",
                        "policy 应是 group_first、personal_all 或 sms_all / policy must be group_first, "
                        "personal_all or sms_all");
    n.policy = *p;
  }
  if (body.contains("priority")) {
    const std::string p = string_field(body, "priority");
    if (p != "normal" && p != "urgent")
      throw NoticeError("invalid", "priority 应是 normal 或 urgent / priority must be normal or urgent");
    n.urgent = p == "urgent";
  }
  if (body.contains("ask_ack")) {
    if (!body["ask_ack"].is_boolean()) throw NoticeError("invalid", "ask_ack 必须是 true 或 false / must be a boolean");
    n.ask_ack = body["ask_ack"].get<bool>();
  }
  n.scheduled_at_ms = time_field(body, "scheduled_at", d.notices.utc_offset_s());
  n.expires_at_ms = time_field(body, "expires_at", d.notices.utc_offset_s());
  if (body.contains("reminder_after_hours")) {
    const json& h = body["reminder_after_hours"];
    if (!h.is_number() || h.get<double>() < 0 || h.get<double>() > 720)
      throw NoticeError("invalid", "reminder_after_hours 应在 0 到 720 之间 / must be from 0 (none) to 720");
    n.reminder_after_s = static_cast<std::int64_t>(h.get<double>() * 3600);
  }
  n.idempotency_key = string_field(body, "idempotency_key");
  if (n.idempotency_key.empty()) n.idempotency_key = req.header("idempotency-key");
  if (!n.idempotency_key.empty()) n.idempotency_key = "api:" + req.principal + ":" + n.idempotency_key;
  n.source = "api";
  n.created_by = req.principal;
  n.creator_person_id = req.principal_person_id;
  return n;
}

constexpr const char* kNoticeSchema =
    R"({"type":"object","properties":{"id":{"type":"integer"},"title":{"type":"string"},"body":{"type":"string"},"body_en":{"type":"string"},"category":{"type":"string"},"audience":{"type":"object"},"policy":{"type":"string","enum":["group_first","personal_all","sms_all"]},"priority":{"type":"string","enum":["normal","urgent"]},"ask_ack":{"type":"boolean"},"scheduled_at_ms":{"type":["integer","null"]},"expires_at_ms":{"type":["integer","null"]},"reminder_after_s":{"type":"integer"},"status":{"type":"string","enum":["scheduled","sending","sent","cancelled"]},"broadcast_id":{"type":["integer","null"]},"reminder_broadcast_id":{"type":["integer","null"]},"source":{"type":"string"},"created_by":{"type":"string"},"created_at_ms":{"type":"integer"},"sent_at_ms":{"type":["integer","null"]},"reminded_at_ms":{"type":["integer","null"]},"reminded_persons":{"type":"integer"},"cancelled_at_ms":{"type":["integer","null"]},"cancelled_by":{"type":"string"}}})";
constexpr const char* kNoticeRequest =
    R"json({"type":"object","required":["audience"],"properties":{"title":{"type":"string","description":"default: the start of the body"},"body":{"type":"string","description":"required unless a template gives it; {name} and {household} are filled per recipient, {date} with the day"},"body_en":{"type":"string","description":"for recipients whose language is English"},"category":{"type":"string","description":"通知 (default), 决议公开, 实施结果公开, 红榜 ..."},"audience":{"type":"object","description":"a directory query: everyone, org_units, roles, households, central_households, persons, only_roles, exclude"},"policy":{"type":"string","enum":["group_first","personal_all","sms_all"]},"priority":{"type":"string","enum":["normal","urgent"]},"ask_ack":{"type":"boolean","description":"ask recipients to reply 收到 (default true)"},"scheduled_at":{"type":["string","integer"],"description":"RFC 3339, 'YYYY-MM-DD HH:MM' village time, or unix ms; absent: now"},"expires_at":{"type":["string","integer"]},"reminder_after_hours":{"type":"number","description":"SMS reminder to those who have not acknowledged; 0: none; default from config"},"template":{"type":"string"},"variables":{"type":"object","additionalProperties":{"type":"string"}},"idempotency_key":{"type":"string","description":"or the Idempotency-Key header: the same key returns the first notice"}}})json";

}  // namespace

std::vector<Registration> register_announcements_api(RouteRegistry& routes, AnnouncementsApiDeps d) {
  std::vector<Registration> regs;
  auto add = [&](RouteSpec spec) {
    spec.tag = "announcements";
    regs.push_back(routes.add(std::move(spec)));
  };
  const std::vector<std::string> writers{"cadre"};
  const std::vector<std::string> readers{"cadre", "supervisor"};

  RouteSpec create;
  create.method = "POST";
  create.path = "notices";
  create.roles = writers;
  create.summary = "Create a notice: sent at once or at scheduled_at; ?dry_run=true only plans it";
  create.description =
      "The audience must lie within the caller's units (a token with --person acting for a cadre); otherwise 403. "
      "201 with the notice and its delivery plan (persons, group posts, personal chats, SMS and segments); a repeated "
      "idempotency key answers 200 with the first notice.";
  create.query_params = {{"dry_run", "true: plan only, nothing is stored or sent", "boolean"}};
  create.request_schema = kNoticeRequest;
  create.response_schema =
      std::string(R"({"type":"object","properties":{"notice":)") + kNoticeSchema + R"(,"plan":{"type":"object"}}})";
  create.success_status = 201;
  create.handler = [d](const HttpRequest& req, const Responder& respond) {
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return respond(HttpResponse::error(400, "bad_request", "the body is not valid JSON"));
    try {
      NoticeDraft draft = draft_from(body, d, req);
      d.notices.validate(draft);
      d.notices.check_scope(draft.audience, req.principal_person_id);
      if (req.query_param("dry_run") == "true")
        return respond(HttpResponse::json(200, {{"dry_run", true}, {"plan", plan_json(d.notices.preview(draft))}}));
      bool created = false;
      const Notice n = d.notices.create(std::move(draft), &created);
      json plan = nullptr;
      if (n.broadcast_id > 0) {
        const json st = d.notices.messenger().broadcast_status(n.broadcast_id);
        if (st.is_object() && st.contains("plan")) plan = st["plan"];
      }
      respond(HttpResponse::json(created ? 201 : 200, {{"notice", notice_json(n)}, {"plan", plan}}));
    } catch (const NoticeError& e) {
      respond(refused(e));
    }
  };
  add(std::move(create));

  RouteSpec list;
  list.method = "GET";
  list.path = "notices";
  list.roles = readers;
  list.summary = "Notices, newest first";
  list.query_params = {{"category", "only this category"},
                       {"status", "scheduled, sending, sent or cancelled"},
                       {"page", "from 1", "integer"},
                       {"per_page", "1–200 (default 50)", "integer"}};
  list.response_schema = std::string(R"({"type":"object","properties":{"items":{"type":"array","items":)") +
                         kNoticeSchema + R"(},"total":{"type":"integer"}}})";
  list.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto page = int_param(req, "page", 1, 1, 1000000);
    const auto per_page = int_param(req, "per_page", 50, 1, 200);
    std::int64_t total = 0;
    json items = json::array();
    for (const auto& n : d.notices.list((page - 1) * per_page, per_page, req.query_param("category"),
                                        req.query_param("status"), &total))
      items.push_back(notice_json(n));
    respond(HttpResponse::json(200, {{"items", items}, {"total", total}, {"page", page}, {"per_page", per_page}}));
  };
  add(std::move(list));

  RouteSpec detail;
  detail.method = "GET";
  detail.path = "notices/{id}";
  detail.roles = readers;
  detail.summary = "A notice with its delivery: recipients by status (queued, sent, delivered, acknowledged ...)";
  detail.response_schema = std::string(R"({"type":"object","properties":{"notice":)") + kNoticeSchema +
                           R"(,"delivery":{"type":["object","null"]},"reminder":{"type":["object","null"]}}})";
  detail.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    const auto n = id ? d.notices.get(*id) : std::nullopt;
    if (!n) return respond(HttpResponse::error(404, "not_found", "no such notice"));
    json delivery = n->broadcast_id > 0 ? d.notices.messenger().broadcast_status(n->broadcast_id) : json(nullptr);
    json reminder =
        n->reminder_broadcast_id > 0 ? d.notices.messenger().broadcast_status(n->reminder_broadcast_id) : json(nullptr);
    respond(HttpResponse::json(200, {{"notice", notice_json(*n)}, {"delivery", delivery}, {"reminder", reminder}}));
  };
  add(std::move(detail));

  RouteSpec recipients;
  recipients.method = "GET";
  recipients.path = "notices/{id}/recipients";
  recipients.roles = readers;
  recipients.summary = "Who the notice was for: channel, delivery and acknowledgement per person (paged)";
  recipients.query_params = {
      {"status", "queued, sending, sent, delivered, acknowledged, failed, expired, cancelled, unreachable, opted_out"},
      {"acknowledged", "true or false", "boolean"},
      {"page", "from 1", "integer"},
      {"per_page", "1–500 (default 100)", "integer"}};
  recipients.response_schema =
      R"({"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"person_id":{"type":"integer"},"name":{"type":"string"},"household":{"type":"string"},"phone":{"type":"string"},"via":{"type":"string"},"status":{"type":"string"},"adapter_id":{"type":"string"},"attempts":{"type":"integer"},"last_error":{"type":"string"},"sent_at_ms":{"type":["integer","null"]},"delivered_at_ms":{"type":["integer","null"]},"acked_at_ms":{"type":["integer","null"]}}}},"total":{"type":"integer"}}})";
  recipients.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    const auto n = id ? d.notices.get(*id) : std::nullopt;
    if (!n) return respond(HttpResponse::error(404, "not_found", "no such notice"));
    // A cadre sees who received a notice only when it lies within their units.
    try {
      d.notices.check_scope(n->audience, req.principal_person_id);
    } catch (const NoticeError& e) {
      return respond(refused(e));
    }
    const auto page = int_param(req, "page", 1, 1, 1000000);
    const auto per_page = int_param(req, "per_page", 100, 1, 500);
    RecipientQuery q;
    q.status = req.query_param("status");
    if (const auto a = req.query_param("acknowledged"); !a.empty()) q.acknowledged = a == "true";
    q.offset = (page - 1) * per_page;
    q.limit = per_page;
    RecipientPage p;
    if (n->broadcast_id > 0) p = d.notices.messenger().recipients(n->broadcast_id, q);
    std::vector<std::int64_t> ids;
    for (const auto& r : p.items) ids.push_back(r.person_id);
    std::unordered_map<std::int64_t, Person> people;
    for (auto& person : d.notices.directory().persons(ids)) people[person.id] = std::move(person);
    json items = json::array();
    auto ms = [](std::int64_t v) { return v > 0 ? json(v) : json(nullptr); };
    for (const auto& r : p.items) {
      const Person& person = people[r.person_id];
      items.push_back({{"person_id", r.person_id},
                       {"name", person.name},
                       {"household", person.household_code},
                       {"phone", phone_for(req, person.phone)},
                       {"via", r.via},
                       {"status", r.status},
                       {"adapter_id", r.adapter_id},
                       {"attempts", r.attempts},
                       {"last_error", r.last_error},
                       {"sent_at_ms", ms(r.sent_at_ms)},
                       {"delivered_at_ms", ms(r.delivered_at_ms)},
                       {"acked_at_ms", ms(r.acked_at_ms)}});
    }
    respond(HttpResponse::json(200, {{"items", items}, {"total", p.total}, {"page", page}, {"per_page", per_page}}));
  };
  add(std::move(recipients));

  RouteSpec csv;
  csv.method = "GET";
  csv.path = "notices/{id}/acknowledgements.csv";
  csv.roles = readers;
  csv.summary = "Every recipient with channel, status and the time they acknowledged (UTF-8 CSV with BOM, for Excel)";
  csv.query_params = {{"acknowledged", "true: only those who acknowledged; false: only those who have not", "boolean"}};
  csv.response_content_type = "text/csv; charset=utf-8";
  csv.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    const auto n = id ? d.notices.get(*id) : std::nullopt;
    if (!n) return respond(HttpResponse::error(404, "not_found", "no such notice"));
    // A cadre sees who received a notice only when it lies within their units.
    try {
      d.notices.check_scope(n->audience, req.principal_person_id);
    } catch (const NoticeError& e) {
      return respond(refused(e));
    }
    std::string out = "\xEF\xBB\xBF户号,姓名,手机,渠道,状态,确认时间\r\n";
    RecipientQuery q;
    if (const auto a = req.query_param("acknowledged"); !a.empty()) q.acknowledged = a == "true";
    q.limit = 5000;
    for (q.offset = 0; n->broadcast_id > 0; q.offset += q.limit) {
      const auto page = d.notices.messenger().recipients(n->broadcast_id, q);
      std::vector<std::int64_t> ids;
      for (const auto& r : page.items) ids.push_back(r.person_id);
      std::unordered_map<std::int64_t, Person> people;
      for (auto& person : d.notices.directory().persons(ids)) people[person.id] = std::move(person);
      for (const auto& r : page.items) {
        const Person& p = people[r.person_id];
        out += cell(p.household_code) + "," + cell(p.name) + "," + cell(phone_for(req, p.phone)) + "," + via_zh(r.via) +
               "," + status_zh(r.status) + "," + (r.acked_at_ms > 0 ? d.notices.local_time(r.acked_at_ms) : "") +
               "\r\n";
      }
      if (static_cast<std::int64_t>(page.items.size()) < q.limit) break;
    }
    auto res = HttpResponse::text(200, std::move(out), "text/csv; charset=utf-8");
    res.headers.emplace_back("Content-Disposition",
                             "attachment; filename=\"notice-" + std::to_string(n->id) + "-acknowledgements.csv\"");
    respond(std::move(res));
  };
  add(std::move(csv));

  RouteSpec cancel;
  cancel.method = "DELETE";
  cancel.path = "notices/{id}";
  cancel.roles = writers;
  cancel.summary = "Cancel a notice: a scheduled one is not sent; of a sent one, what is still queued is not sent";
  cancel.response_schema = kNoticeSchema;
  cancel.handler = [d](const HttpRequest& req, const Responder& respond) {
    const auto id = id_of(req);
    const auto n = id ? d.notices.get(*id) : std::nullopt;
    if (!n) return respond(HttpResponse::error(404, "not_found", "no such notice"));
    try {
      d.notices.check_scope(n->audience, req.principal_person_id);
      respond(HttpResponse::json(200, notice_json(d.notices.cancel(*id, req.principal))));
    } catch (const NoticeError& e) {
      respond(refused(e));
    }
  };
  add(std::move(cancel));

  RouteSpec templates;
  templates.method = "GET";
  templates.path = "templates";
  templates.roles = readers;
  templates.summary = "Notice templates from the config, with their variables";
  templates.response_schema =
      R"({"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"code":{"type":"string"},"category":{"type":"string"},"title":{"type":"string"},"body":{"type":"string"},"body_en":{"type":"string"}}}}}})";
  templates.handler = [d](const HttpRequest&, const Responder& respond) {
    json items = json::array();
    for (const auto& t : d.templates)
      items.push_back(
          {{"code", t.code}, {"category", t.category}, {"title", t.title}, {"body", t.body}, {"body_en", t.body_en}});
    respond(HttpResponse::json(200, {{"items", items}}));
  };
  add(std::move(templates));
  return regs;
}

}  // namespace villagebot::announcements
