#include "runtime/admin_api.hpp"

#include <charconv>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "delivery/engine.hpp"
#include "directory/people_export.hpp"
#include "directory/people_import.hpp"
#include "directory/records.hpp"

namespace villagebot::runtime {

namespace {

using directory::ApiError;
using directory::Caller;
using nlohmann::json;

constexpr std::size_t kImportBodyLimit = 64u << 20;

// Who may do what (docs/API.md). admin passes every route.
const std::vector<std::string> kReaders{"cadre", "supervisor"};
const std::vector<std::string> kWriters{"cadre"};
const std::vector<std::string> kAuditReaders{"supervisor"};
const std::vector<std::string> kAdminOnly{"admin"};

bool sees_phones(const HttpRequest& r) {
  return r.principal_role == "admin" || r.principal_role == "cadre";
}

std::int64_t id_param(const HttpRequest& r, std::string_view name) {
  const std::string v = r.path_param(name);
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
  if (ec != std::errc() || end != v.data() + v.size() || id <= 0) throw ApiError(404, "not_found", "not an id: " + v);
  return id;
}

std::int64_t int_query(const HttpRequest& r, std::string_view name, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi) {
  const std::string v = r.query_param(name);
  if (v.empty()) return fallback;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < lo || n > hi)
    throw ApiError(
        400, "bad_request",
        std::string(name) + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
  return n;
}

bool flag_query(const HttpRequest& r, std::string_view name) {
  const std::string v = r.query_param(name);
  return v == "1" || v == "true" || v == "yes";
}

directory::Paging paging(const HttpRequest& r) {
  return {int_query(r, "page", 1, 1, 1'000'000), int_query(r, "per_page", 50, 1, 500)};
}

json body_json(const HttpRequest& r) {
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded())
    throw ApiError(400, "bad_request", "请求体不是有效的 JSON / the body is not valid JSON (UTF-8)");
  return body;
}

using Handler = std::function<HttpResponse(const HttpRequest&, const Caller&)>;

struct Api {
  RouteRegistry& routes;
  directory::DirectoryAdmin& admin;
  TokenStore& tokens;
  Storage& storage;
  delivery::DeliveryEngine& engine;
  std::vector<Registration> registrations;

  Caller caller(const HttpRequest& r) {
    Caller c;
    c.actor = directory::audit::Actor{r.principal, r.principal_role, "api"};
    if (r.principal_role == "cadre") {
      c.scope = admin.scope_of(r.principal_person_id);
      c.may_grant_any_role = false;
    }
    return c;
  }

  struct Doc {
    std::string summary;
    std::string tag;
    std::vector<ParamDoc> query = {};
    std::string request_schema = {};
    std::string response_schema = {};
    int success = 200;
    std::string description = {};
  };

  void add(std::string method, std::string path, const std::vector<std::string>& roles, Doc doc, Handler handler,
           std::size_t max_body = 0, std::string request_type = "application/json",
           std::string response_type = "application/json") {
    RouteSpec spec;
    spec.method = std::move(method);
    spec.path = std::move(path);
    spec.roles = roles;
    spec.summary = std::move(doc.summary);
    spec.tag = std::move(doc.tag);
    spec.description = std::move(doc.description);
    spec.query_params = std::move(doc.query);
    spec.request_schema = std::move(doc.request_schema);
    spec.response_schema = std::move(doc.response_schema);
    spec.success_status = doc.success;
    spec.max_body_bytes = max_body;
    spec.request_content_type = std::move(request_type);
    spec.response_content_type = std::move(response_type);
    spec.handler = [this, handler = std::move(handler)](const HttpRequest& r, const Responder& respond) {
      try {
        respond(handler(r, caller(r)));
      } catch (const ApiError& e) {
        respond(HttpResponse::error(e.status(), e.code(), e.what()));
      } catch (const ConstraintError& e) {
        respond(HttpResponse::error(409, "conflict",
                                    std::string("与现有数据冲突 / conflicts with existing data: ") + e.what()));
      }
    };
    registrations.push_back(routes.add(std::move(spec)));
  }

  HttpResponse reply(const HttpRequest& r, json body, int status = 200) const {
    if (!sees_phones(r)) directory::mask_phones(body);
    return HttpResponse::json(status, body);
  }
};

std::string ref(const char* schema) {
  return json{{"$ref", std::string("#/components/schemas/") + schema}}.dump();
}
std::string page_of(const char* schema) {
  return json{
      {"allOf",
       json::array(
           {json{{"$ref", "#/components/schemas/Page"}},
            json{{"type", "object"},
                 {"properties",
                  {{"items",
                    {{"type", "array"}, {"items", {{"$ref", std::string("#/components/schemas/") + schema}}}}}}}}})}}
      .dump();
}

const std::vector<ParamDoc> kPaging{{"page", "1-based page number", "integer", false},
                                    {"per_page", "items per page (at most 500, default 50)", "integer", false}};

std::vector<ParamDoc> with_paging(std::vector<ParamDoc> extra) {
  extra.insert(extra.end(), kPaging.begin(), kPaging.end());
  return extra;
}

void add_org_units(Api& api) {
  api.add("GET", "/api/v1/org-units", kReaders,
          {"List org units (search by name or path)", "directory", with_paging({{"q", "name or path contains"}}), "",
           page_of("OrgUnit")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.list_org_units(c, r.query_param("q"), paging(r)));
          });
  api.add("POST", "/api/v1/org-units", kWriters,
          {"Create an org unit", "directory", {}, ref("OrgUnitInput"), ref("OrgUnit"), 201},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.create_org_unit(c, body_json(r)), 201);
          });
  api.add("GET", "/api/v1/org-units/{id}", kReaders, {"Read an org unit", "directory", {}, "", ref("OrgUnit")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.get_org_unit(c, id_param(r, "id")));
          });
  api.add("PUT", "/api/v1/org-units/{id}", kWriters,
          {"Rename, move or reassign an org unit", "directory", {}, ref("OrgUnitInput"), ref("OrgUnit")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.update_org_unit(c, id_param(r, "id"), body_json(r)));
          });
  api.add("DELETE", "/api/v1/org-units/{id}", kWriters,
          {"Delete an empty org unit", "directory", {}, "", ref("Deleted")},
          [&api](const HttpRequest& r, const Caller& c) {
            api.admin.delete_org_unit(c, id_param(r, "id"));
            return api.reply(r, {{"deleted", true}});
          });
}

void add_households(Api& api) {
  api.add("GET", "/api/v1/households", kReaders,
          {"List households", "directory",
           with_paging({{"q", "code or head contains"}, {"org_unit_id", "only this unit's subtree", "integer"}}), "",
           page_of("Household")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.list_households(c, r.query_param("q"),
                                                          int_query(r, "org_unit_id", 0, 0, INT64_MAX), paging(r)));
          });
  api.add("POST", "/api/v1/households", kWriters,
          {"Create a household", "directory", {}, ref("HouseholdInput"), ref("Household"), 201},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.create_household(c, body_json(r)), 201);
          });
  api.add("GET", "/api/v1/households/{id}", kReaders, {"Read a household", "directory", {}, "", ref("Household")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.get_household(c, id_param(r, "id")));
          });
  api.add("PUT", "/api/v1/households/{id}", kWriters,
          {"Change a household", "directory", {}, ref("HouseholdInput"), ref("Household")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.update_household(c, id_param(r, "id"), body_json(r)));
          });
  api.add("DELETE", "/api/v1/households/{id}", kWriters,
          {"Delete a household without members", "directory", {}, "", ref("Deleted")},
          [&api](const HttpRequest& r, const Caller& c) {
            api.admin.delete_household(c, id_param(r, "id"));
            return api.reply(r, {{"deleted", true}});
          });
}

void add_persons(Api& api) {
  api.add("GET", "/api/v1/persons", kReaders,
          {"Search persons", "directory",
           with_paging({{"q", "name contains, or phone digits"},
                        {"role", "holds this role"},
                        {"org_unit_id", "in this unit's subtree", "integer"},
                        {"household_id", "member of this household", "integer"}}),
           "", page_of("Person")},
          [&api](const HttpRequest& r, const Caller& c) {
            directory::PersonFilter f{r.query_param("q"), r.query_param("role"),
                                      int_query(r, "org_unit_id", 0, 0, INT64_MAX),
                                      int_query(r, "household_id", 0, 0, INT64_MAX)};
            return api.reply(r, api.admin.list_persons(c, f, paging(r)));
          });
  api.add("POST", "/api/v1/persons", kWriters,
          {"Register a person", "directory", {}, ref("PersonInput"), ref("Person"), 201},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.create_person(c, body_json(r)), 201);
          });
  api.add("GET", "/api/v1/persons/{id}", kReaders, {"Read a person", "directory", {}, "", ref("Person")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.get_person(c, id_param(r, "id")));
          });
  api.add("PUT", "/api/v1/persons/{id}", kWriters,
          {"Change a person", "directory", {}, ref("PersonInput"), ref("Person")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.update_person(c, id_param(r, "id"), body_json(r)));
          });
  api.add("DELETE", "/api/v1/persons/{id}", kWriters, {"Remove a person", "directory", {}, "", ref("Deleted")},
          [&api](const HttpRequest& r, const Caller& c) {
            api.admin.delete_person(c, id_param(r, "id"));
            return api.reply(r, {{"deleted", true}});
          });
  api.add("GET", "/api/v1/roles", kReaders, {"The roles and how many hold each", "directory", {}, "", ref("RoleList")},
          [&api](const HttpRequest& r, const Caller& c) { return api.reply(r, api.admin.roles(c)); });
  api.add("POST", "/api/v1/persons/{id}/roles", kWriters,
          {"Grant a role", "directory", {}, ref("RoleInput"), ref("Person")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.add_role(c, id_param(r, "id"), body_json(r)));
          });
  api.add("DELETE", "/api/v1/persons/{id}/roles/{role}", kWriters,
          {"Remove a role", "directory", {}, "", ref("Person")}, [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.remove_role(c, id_param(r, "id"), r.path_param("role")));
          });
  api.add("GET", "/api/v1/persons/{id}/identities", kReaders,
          {"A person's chat identities", "directory", {}, "", ref("IdentityList")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.identities(c, id_param(r, "id")));
          });
  api.add("PUT", "/api/v1/persons/{id}/identities/{kind}", kWriters,
          {"Set a chat identity (wecom, dingtalk, feishu, telegram, slack)",
           "directory",
           {},
           ref("IdentityInput"),
           ref("Person")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.set_identity(c, id_param(r, "id"), r.path_param("kind"), body_json(r)));
          });
  api.add("DELETE", "/api/v1/persons/{id}/identities/{kind}", kWriters,
          {"Remove a chat identity", "directory", {}, "", ref("Person")},
          [&api](const HttpRequest& r, const Caller& c) {
            return api.reply(r, api.admin.remove_identity(c, id_param(r, "id"), r.path_param("kind")));
          });
  api.add("POST", "/api/v1/audience", kReaders,
          {"Resolve an audience to persons", "directory", {}, ref("Audience"), ref("AudienceResult")},
          [&api](const HttpRequest& r, const Caller& c) { return api.reply(r, api.admin.audience(c, body_json(r))); });
}

json report_json(const directory::ImportReport& report, bool dry_run) {
  json problems = json::array();
  for (const auto& p : report.problems)
    problems.push_back({{"line", p.line}, {"column", p.column}, {"reason", p.reason}});
  return {{"applied", report.applied},
          {"dry_run", dry_run},
          {"rows", report.rows},
          {"persons_created", report.persons_created},
          {"persons_updated", report.persons_updated},
          {"households_created", report.households_created},
          {"households_updated", report.households_updated},
          {"org_units_created", report.org_units_created},
          {"changes", report.changes},
          {"change_lines", report.change_lines},
          {"problems", std::move(problems)}};
}

void add_import_export(Api& api) {
  api.add(
      "POST", "/api/v1/import/people", kWriters,
      {"Import the people register (CSV: UTF-8, UTF-8 with BOM or GBK)",
       "directory",
       {{"dry_run", "report what would change, write nothing", "boolean"},
        {"skip_bad", "import the good rows even if some are bad", "boolean"}},
       json{{"type", "string"}, {"format", "binary"}}.dump(),
       ref("ImportReport"),
       200,
       "200 when applied or a dry run; 422 when refused (nothing written)."},
      [&api](const HttpRequest& r, const Caller& c) {
        if (!c.scope.whole_village)
          throw ApiError(403, "out_of_scope", "导入针对全村，请联系管理员 / the import is village-wide: ask an admin");
        directory::ImportOptions options;
        options.dry_run = flag_query(r, "dry_run");
        options.skip_bad = flag_query(r, "skip_bad");
        options.actor = c.actor;
        const auto report = directory::import_people(api.storage, r.body, options);
        if (report.applied) api.admin.notify_changed();
        const bool refused = !report.applied && !options.dry_run && !report.problems.empty();
        return api.reply(r, report_json(report, options.dry_run), refused ? 422 : 200);
      },
      kImportBodyLimit, "text/csv");
  api.add(
      "GET", "/api/v1/export/people", kWriters,
      {"Export the people register as CSV (UTF-8 with BOM, for Excel)",
       "directory",
       {{"headers", "en for English headers (default Chinese)"}},
       "",
       json{{"type", "string"}}.dump()},
      [&api](const HttpRequest& r, const Caller& c) {
        directory::ExportOptions options;
        options.english_headers = r.query_param("headers") == "en";
        if (!c.scope.whole_village) options.units = c.scope.units;
        HttpResponse res =
            HttpResponse::text(200, directory::export_people(api.storage, options), "text/csv; charset=utf-8");
        res.headers.emplace_back("Content-Disposition", "attachment; filename=\"people.csv\"");
        return res;
      },
      0, "application/json", "text/csv");
}

void add_tokens_audit(Api& api) {
  api.add("GET", "/api/v1/tokens", kAdminOnly,
          {"List API tokens (never the tokens themselves)", "access", {}, "", ref("TokenList")},
          [&api](const HttpRequest& r, const Caller&) {
            json items = json::array();
            for (const auto& t : api.tokens.list()) items.push_back(to_json(t));
            return api.reply(r, {{"items", std::move(items)}});
          });
  api.add(
      "POST", "/api/v1/tokens", kAdminOnly,
      {"Create an API token (shown once)", "access", {}, ref("TokenInput"), ref("NewToken"), 201},
      [&api](const HttpRequest& r, const Caller& c) {
        const json body = body_json(r);
        if (!body.is_object()) throw ApiError(400, "bad_request", "the body must be a JSON object");
        for (const auto& [key, value] : body.items())
          if (key != "name" && key != "role" && key != "person_id")
            throw ApiError(400, "bad_request", "unknown field '" + key + "'");
        if (!body.contains("name") || !body["name"].is_string() || !body.contains("role") || !body["role"].is_string())
          throw ApiError(400, "bad_request", "name and role are required strings");
        std::optional<std::int64_t> person;
        if (body.contains("person_id") && !body["person_id"].is_null()) {
          if (!body["person_id"].is_number_integer()) throw ApiError(400, "bad_request", "person_id must be an id");
          person = body["person_id"].get<std::int64_t>();
        }
        try {
          const std::string token =
              api.tokens.create(body["name"].get<std::string>(), body["role"].get<std::string>(), person, &c.actor);
          return HttpResponse::json(201, {{"token", token}, {"name", body["name"]}, {"role", body["role"]}});
        } catch (const std::invalid_argument& e) {
          const std::string what = e.what();
          throw ApiError(what.find("exists already") != std::string::npos ? 409 : 422,
                         what.find("exists already") != std::string::npos ? "conflict" : "invalid", what);
        }
      });
  api.add("DELETE", "/api/v1/tokens/{name}", kAdminOnly, {"Revoke an API token", "access", {}, "", ref("Revoked")},
          [&api](const HttpRequest& r, const Caller& c) {
            if (!api.tokens.revoke(r.path_param("name"), &c.actor))
              throw ApiError(404, "not_found", "no active token named " + r.path_param("name"));
            return api.reply(r, {{"revoked", true}});
          });
  api.add("GET", "/api/v1/audit", kAuditReaders,
          {"Read the audit log, newest first", "access",
           with_paging({{"entity", "org_unit, household, person, token, import"},
                        {"entity_id", "the record's id"},
                        {"actor", "token name or cli:<user>"},
                        {"action", "e.g. person.update"}}),
           "", page_of("AuditEntry")},
          [&api](const HttpRequest& r, const Caller&) {
            const auto p = paging(r);
            directory::audit::Query q{r.query_param("entity"),
                                      r.query_param("entity_id"),
                                      r.query_param("actor"),
                                      r.query_param("action"),
                                      p.page,
                                      p.per_page};
            return api.reply(r, api.storage.read([&](Session& s) { return directory::audit::list(s, q); }));
          });
  api.add("GET", "/api/v1/me", {}, {"This token: name, role and scope", "access", {}, "", ref("Me")},
          [&api](const HttpRequest& r, const Caller& c) {
            json units = json::array();
            for (std::int64_t root : c.scope.roots) {
              const json unit = api.admin.get_org_unit(Caller{}, root);
              units.push_back({{"id", root}, {"path", unit["path"]}});
            }
            return api.reply(r, {{"name", r.principal},
                                 {"role", r.principal_role},
                                 {"person_id", r.principal_person_id > 0 ? json(r.principal_person_id) : json(nullptr)},
                                 {"scope", {{"whole_village", c.scope.whole_village}, {"org_units", units}}}});
          });
}

Priority priority_field(const json& body) {
  if (!body.contains("priority")) return Priority::notice;
  const json& p = body["priority"];
  if (p == "emergency") return Priority::emergency;
  if (p == "notice") return Priority::notice;
  if (p == "bulk") return Priority::bulk;
  throw ApiError(400, "bad_request", "priority must be emergency, notice or bulk");
}

ChannelPolicy policy_field(const json& body) {
  if (!body.contains("policy")) return ChannelPolicy::group_first;
  const json& p = body["policy"];
  if (p == "group_first") return ChannelPolicy::group_first;
  if (p == "personal_all") return ChannelPolicy::personal_all;
  if (p == "sms_all") return ChannelPolicy::sms_all;
  if (p == "every_channel") return ChannelPolicy::every_channel;
  throw ApiError(400, "bad_request", "policy must be group_first, personal_all, sms_all or every_channel");
}

Broadcast broadcast_from(Api& api, const HttpRequest& r, const Caller& c, const json& body) {
  if (!body.is_object()) throw ApiError(400, "bad_request", "the body must be a JSON object");
  for (const auto& [key, value] : body.items())
    if (key != "text" && key != "kind" && key != "audience" && key != "policy" && key != "priority" &&
        key != "essential" && key != "valid_for_s" && key != "title" && key != "ask_ack" && key != "idempotency_key")
      throw ApiError(400, "bad_request", "unknown field '" + key + "'");
  Broadcast b;
  if (!body.contains("text") || !body["text"].is_string() || body["text"].get_ref<const std::string&>().empty())
    throw ApiError(400, "bad_request", "text is required");
  b.text = body["text"].get<std::string>();
  if (b.text.size() > 4000) throw ApiError(422, "invalid", "the text is longer than 4000 bytes");
  if (body.contains("kind")) {
    if (!body["kind"].is_string()) throw ApiError(400, "bad_request", "kind must be a string");
    b.kind = body["kind"].get<std::string>();
  }
  if (!body.contains("audience")) throw ApiError(400, "bad_request", "audience is required");
  try {
    b.audience = audience_from_json(body["audience"]);
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, "bad_request", e.what());
  }
  if (b.audience.empty())
    throw ApiError(422, "invalid", "the audience is empty: name units, roles, households or persons");
  api.admin.restrict_to_scope(c, b.audience);
  b.policy = policy_field(body);
  b.priority = priority_field(body);
  if (body.contains("essential")) {
    if (!body["essential"].is_boolean()) throw ApiError(400, "bad_request", "essential must be true or false");
    b.essential = body["essential"].get<bool>();
  }
  if (body.contains("valid_for_s")) {
    if (!body["valid_for_s"].is_number_integer() || body["valid_for_s"].get<std::int64_t>() <= 0)
      throw ApiError(400, "bad_request", "valid_for_s must be a positive number of seconds");
    b.valid_for = std::chrono::seconds(body["valid_for_s"].get<std::int64_t>());
  }
  for (const char* k : {"title", "idempotency_key"})
    if (body.contains(k)) {
      if (!body[k].is_string() || body[k].get_ref<const std::string&>().size() > 200)
        throw ApiError(400, "bad_request", std::string(k) + " must be a string of at most 200 bytes");
      (std::string_view(k) == "title" ? b.title : b.idempotency_key) = body[k].get<std::string>();
    }
  if (body.contains("ask_ack")) {
    if (!body["ask_ack"].is_boolean()) throw ApiError(400, "bad_request", "ask_ack must be true or false");
    b.ask_ack = body["ask_ack"].get<bool>();
  }
  // A caller's key lives in the caller's own namespace: it can neither take over a plugin's
  // broadcast (announcements:<id>) nor another caller's.
  if (!b.idempotency_key.empty()) b.idempotency_key = "api:" + r.principal + ":" + b.idempotency_key;
  b.created_by = r.principal;
  return b;
}

void add_delivery(Api& api) {
  api.add("GET", "/api/v1/broadcasts", kReaders,
          {"Broadcasts, newest first, with their counts", "delivery", kPaging, "", page_of("BroadcastStatus")},
          [&api](const HttpRequest& r, const Caller&) {
            const auto p = paging(r);
            return api.reply(r, api.engine.list_broadcasts(p.page, p.per_page));
          });
  api.add("POST", "/api/v1/broadcasts", kWriters,
          {"Send a broadcast to an audience (or only plan it)",
           "delivery",
           {{"dry_run", "plan only: counts, SMS segments and cost; nothing is sent", "boolean"}},
           ref("BroadcastInput"),
           ref("BroadcastCreated"),
           201},
          [&api](const HttpRequest& r, const Caller& c) {
            const Broadcast b = broadcast_from(api, r, c, body_json(r));
            if (flag_query(r, "dry_run"))
              return api.reply(r, {{"plan", delivery::DeliveryEngine::plan_json(api.engine.plan(b))}});
            DeliveryPlan plan;
            const std::int64_t id = api.engine.broadcast(b, &plan);
            return api.reply(r, {{"id", id}, {"plan", delivery::DeliveryEngine::plan_json(plan)}}, 201);
          });
  api.add("GET", "/api/v1/broadcasts/{id}", kReaders,
          {"A broadcast's status: counts by status, acknowledged", "delivery", {}, "", ref("BroadcastStatus")},
          [&api](const HttpRequest& r, const Caller&) {
            json st = api.engine.broadcast_status(id_param(r, "id"));
            if (st.is_null()) throw ApiError(404, "not_found", "no such broadcast");
            return api.reply(r, std::move(st));
          });
  api.add("GET", "/api/v1/broadcasts/{id}/recipients", kReaders,
          {"Who received and acknowledged a broadcast", "delivery",
           with_paging({{"status",
                         "queued, sending, sent, delivered, acknowledged, failed, expired, cancelled or unreachable"}}),
           "", page_of("Recipient")},
          [&api](const HttpRequest& r, const Caller&) {
            const auto id = id_param(r, "id");
            if (api.engine.broadcast_status(id).is_null()) throw ApiError(404, "not_found", "no such broadcast");
            const auto p = paging(r);
            return api.reply(r, api.engine.recipients(id, r.query_param("status"), p.page, p.per_page));
          });
  api.add("DELETE", "/api/v1/broadcasts/{id}", kWriters,
          {"Cancel what is still queued of a broadcast", "delivery", {}, "", ref("Cancelled")},
          [&api](const HttpRequest& r, const Caller&) {
            if (!api.engine.cancel_broadcast(id_param(r, "id"))) throw ApiError(404, "not_found", "no such broadcast");
            return api.reply(r, {{"cancelled", true}});
          });
  api.add("GET", "/api/v1/outbox/dead", kReaders,
          {"Messages that failed or expired, with the reason (dead letters)", "delivery", kPaging, "",
           page_of("DeadLetter")},
          [&api](const HttpRequest& r, const Caller&) {
            const auto p = paging(r);
            return api.reply(r, api.engine.dead_letters(p.page, p.per_page));
          });
  api.add("GET", "/api/v1/group-chats", kReaders,
          {"Group chats the bot posts into, and the unit each covers", "delivery", {}, "", ref("GroupChatList")},
          [&api](const HttpRequest& r, const Caller&) {
            json items = json::array();
            api.storage.read([&](Session& s) {
              for (const Row& g : s.query("SELECT g.id, g.adapter_id, g.chat_id, g.name, g.org_unit_id, "
                                          "COALESCE(u.path, '') FROM core_group_chats g LEFT JOIN core_org_units u "
                                          "ON u.id = g.org_unit_id ORDER BY g.id"))
                items.push_back({{"id", g.integer(0)},
                                 {"adapter_id", g.text(1)},
                                 {"chat_id", g.text(2)},
                                 {"name", g.text(3)},
                                 {"org_unit_id", g.is_null(4) ? json(nullptr) : json(g.integer(4))},
                                 {"org_unit_path", g.text(5)}});
            });
            return api.reply(r, {{"items", std::move(items)}});
          });
  api.add("POST", "/api/v1/group-chats", kAdminOnly,
          {"Register a group chat (adapter, chat id, the org unit whose people are in it)",
           "delivery",
           {},
           ref("GroupChatInput"),
           ref("GroupChat"),
           201},
          [&api](const HttpRequest& r, const Caller& c) {
            const json body = body_json(r);
            if (!body.is_object() || !body.contains("adapter_id") || !body["adapter_id"].is_string() ||
                !body.contains("chat_id") || !body["chat_id"].is_string() ||
                body["chat_id"].get_ref<const std::string&>().empty())
              throw ApiError(400, "bad_request", "adapter_id and chat_id are required strings");
            for (const auto& [key, value] : body.items())
              if (key != "adapter_id" && key != "chat_id" && key != "name" && key != "org_unit_id")
                throw ApiError(400, "bad_request", "unknown field '" + key + "'");
            const std::string name =
                body.contains("name") && body["name"].is_string() ? body["name"].get<std::string>() : "";
            std::int64_t unit = 0;
            if (body.contains("org_unit_id") && !body["org_unit_id"].is_null()) {
              if (!body["org_unit_id"].is_number_integer())
                throw ApiError(400, "bad_request", "org_unit_id must be an id");
              unit = body["org_unit_id"].get<std::int64_t>();
            }
            return api.reply(r, api.storage.write([&](Session& s) {
              if (unit > 0 && s.query("SELECT 1 FROM core_org_units WHERE id = ?", {unit}).empty())
                throw ApiError(422, "invalid", "no org unit with id " + std::to_string(unit));
              try {
                s.execute("INSERT INTO core_group_chats (adapter_id, chat_id, name, org_unit_id) VALUES (?, ?, ?, ?)",
                          {body["adapter_id"].get<std::string>(), body["chat_id"].get<std::string>(), name,
                           unit > 0 ? Value{unit} : Value{nullptr}});
              } catch (const ConstraintError&) {
                throw ApiError(409, "conflict", "this group chat is registered already");
              }
              const json after = {{"id", s.last_insert_id()},
                                  {"adapter_id", body["adapter_id"]},
                                  {"chat_id", body["chat_id"]},
                                  {"name", name},
                                  {"org_unit_id", unit > 0 ? json(unit) : json(nullptr)}};
              directory::audit::record(
                  s, c.actor, {"group_chat.create", "group_chat", std::to_string(s.last_insert_id()), nullptr, after});
              return after;
            }),
                             201);
          });
  api.add("DELETE", "/api/v1/group-chats/{id}", kAdminOnly, {"Forget a group chat", "delivery", {}, "", ref("Deleted")},
          [&api](const HttpRequest& r, const Caller& c) {
            const auto id = id_param(r, "id");
            const bool gone = api.storage.write([&](Session& s) {
              auto rows = s.query("SELECT adapter_id, chat_id, name FROM core_group_chats WHERE id = ?", {id});
              if (rows.empty()) return false;
              const json before = {
                  {"id", id}, {"adapter_id", rows[0].text(0)}, {"chat_id", rows[0].text(1)}, {"name", rows[0].text(2)}};
              s.execute("DELETE FROM core_group_chats WHERE id = ?", {id});
              directory::audit::record(s, c.actor,
                                       {"group_chat.delete", "group_chat", std::to_string(id), before, nullptr});
              return true;
            });
            if (!gone) throw ApiError(404, "not_found", "no such group chat");
            return api.reply(r, {{"deleted", true}});
          });
}

}  // namespace

std::vector<Registration> register_admin_api(RouteRegistry& routes, directory::DirectoryAdmin& admin,
                                             TokenStore& tokens, Storage& storage, delivery::DeliveryEngine& engine) {
  // The handlers capture the Api by reference: it lives as long as the routes.
  auto api = std::make_shared<Api>(Api{routes, admin, tokens, storage, engine, {}});
  add_org_units(*api);
  add_households(*api);
  add_persons(*api);
  add_import_export(*api);
  add_tokens_audit(*api);
  add_delivery(*api);
  std::vector<Registration> out = std::move(api->registrations);
  // Keep the Api alive until the last route is gone.
  out.emplace_back([api] {});
  return out;
}

}  // namespace villagebot::runtime
