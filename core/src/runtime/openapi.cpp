#include "runtime/openapi.hpp"

#include <set>

#ifndef VILLAGEBOT_VERSION
#define VILLAGEBOT_VERSION "0.0.0"
#endif

namespace villagebot::runtime {

namespace {

using nlohmann::json;

json schema_of(const std::string& text) {
  json s = json::parse(text, nullptr, false);
  return s.is_discarded() ? json{{"type", "object"}} : s;
}

json str() {
  return {{"type", "string"}};
}
json integer() {
  return {{"type", "integer"}};
}
json nullable_id() {
  return {{"type", "integer"}, {"nullable", true}};
}
json boolean() {
  return {{"type", "boolean"}};
}
json array_of(json items) {
  return {{"type", "array"}, {"items", std::move(items)}};
}
json object(json properties, std::vector<std::string> required = {}) {
  json o = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = required;
  return o;
}
json ref(const char* name) {
  return {{"$ref", std::string("#/components/schemas/") + name}};
}

// The schemas of the core API (docs/API.md).
json core_schemas() {
  json s;
  s["Error"] = object({{"error", object({{"code", str()}, {"message", str()}}, {"code", "message"})}}, {"error"});
  s["Page"] =
      object({{"items", array_of(json::object())}, {"total", integer()}, {"page", integer()}, {"per_page", integer()}},
             {"items", "total", "page", "per_page"});
  s["Deleted"] = object({{"deleted", boolean()}});
  s["Revoked"] = object({{"revoked", boolean()}});
  s["OrgUnit"] = object({{"id", integer()},
                         {"parent_id", nullable_id()},
                         {"name", str()},
                         {"path", str()},
                         {"responsible_person_id", nullable_id()}});
  s["OrgUnitInput"] = object({{"name", str()}, {"parent_id", nullable_id()}, {"responsible_person_id", nullable_id()}});
  s["Household"] = object({{"id", integer()},
                           {"code", str()},
                           {"head_name", str()},
                           {"org_unit_id", nullable_id()},
                           {"org_unit_path", str()},
                           {"central_household_id", nullable_id()},
                           {"central_household_code", str()},
                           {"members", integer()}});
  s["HouseholdInput"] = object(
      {{"code", str()}, {"head_name", str()}, {"org_unit_id", nullable_id()}, {"central_household_id", nullable_id()}});
  const json identities = {{"type", "object"}, {"additionalProperties", {{"type", "string"}, {"nullable", true}}}};
  s["Person"] = object({{"id", integer()},
                        {"name", str()},
                        {"phone", str()},
                        {"household_id", nullable_id()},
                        {"household_code", str()},
                        {"org_unit_id", nullable_id()},
                        {"org_unit_path", str()},
                        {"roles", array_of(str())},
                        {"identities", identities},
                        {"lang", {{"type", "string"}, {"enum", {"zh-CN", "en"}}}},
                        {"opted_out", boolean()},
                        {"channel_preference", str()},
                        {"created_at", integer()},
                        {"updated_at", integer()}});
  s["PersonInput"] = object({{"name", str()},
                             {"phone", str()},
                             {"household_id", integer()},
                             {"org_unit_id", nullable_id()},
                             {"roles", array_of(str())},
                             {"identities", identities},
                             {"lang", {{"type", "string"}, {"enum", {"zh-CN", "en"}}}},
                             {"opted_out", boolean()},
                             {"channel_preference", str()}});
  s["RoleInput"] = object({{"role", str()}}, {"role"});
  s["RoleList"] = object({{"items", array_of(object({{"role", str()}, {"name_zh", str()}, {"count", integer()}}))}});
  s["IdentityInput"] = object({{"external_id", str()}}, {"external_id"});
  s["IdentityList"] = object({{"items", array_of(object({{"kind", str()}, {"external_id", str()}}))}});
  const json ids = array_of(integer());
  s["Audience"] = object(
      {{"everyone", boolean()},
       {"org_units", ids},
       {"roles", array_of(str())},
       {"households", ids},
       {"central_households", ids},
       {"persons", ids},
       {"only_roles", array_of(str())},
       {"within_org_units", ids},
       {"exclude", object({{"org_units", ids}, {"roles", array_of(str())}, {"households", ids}, {"persons", ids}})}});
  s["AudienceResult"] = object({{"count", integer()}, {"person_ids", ids}});
  s["ImportReport"] =
      object({{"applied", boolean()},
              {"dry_run", boolean()},
              {"rows", integer()},
              {"persons_created", integer()},
              {"persons_updated", integer()},
              {"households_created", integer()},
              {"households_updated", integer()},
              {"org_units_created", integer()},
              {"changes", integer()},
              {"change_lines", array_of(str())},
              {"problems", array_of(object({{"line", integer()}, {"column", str()}, {"reason", str()}}))}});
  s["Token"] = object({{"id", integer()},
                       {"name", str()},
                       {"role", str()},
                       {"person_id", nullable_id()},
                       {"created_at", integer()},
                       {"revoked", boolean()}});
  s["TokenList"] = object({{"items", array_of(ref("Token"))}});
  s["TokenInput"] = object({{"name", str()}, {"role", str()}, {"person_id", nullable_id()}}, {"name", "role"});
  s["NewToken"] = object({{"token", str()}, {"name", str()}, {"role", str()}});
  s["AuditEntry"] = object({{"id", integer()},
                            {"at_ms", integer()},
                            {"actor", str()},
                            {"actor_role", str()},
                            {"via", str()},
                            {"action", str()},
                            {"entity", str()},
                            {"entity_id", str()},
                            {"before", {{"type", "object"}, {"nullable", true}}},
                            {"after", {{"type", "object"}, {"nullable", true}}}});
  s["Plan"] = object({{"persons", integer()},
                      {"group_posts", integer()},
                      {"covered_by_groups", integer()},
                      {"personal_chats", integer()},
                      {"sms", integer()},
                      {"sms_segments", integer()},
                      {"opted_out", integer()},
                      {"unreachable", integer()},
                      {"estimated_cost", {{"type", "number"}}}});
  s["BroadcastInput"] =
      object({{"text", str()},
              {"kind", str()},
              {"audience", ref("Audience")},
              {"policy", {{"type", "string"}, {"enum", {"group_first", "personal_all", "sms_all", "every_channel"}}}},
              {"priority", {{"type", "string"}, {"enum", {"emergency", "notice", "bulk"}}}},
              {"essential", boolean()},
              {"valid_for_s", integer()},
              {"title", str()},
              {"ask_ack", boolean()},
              {"idempotency_key", str()}},
             {"text", "audience"});
  s["BroadcastCreated"] = object({{"id", integer()}, {"plan", ref("Plan")}});
  const json counts = {{"type", "object"}, {"additionalProperties", integer()}};
  s["BroadcastStatus"] = object({{"id", integer()},
                                 {"kind", str()},
                                 {"text", str()},
                                 {"policy", str()},
                                 {"priority", integer()},
                                 {"essential", boolean()},
                                 {"created_by", str()},
                                 {"plan", ref("Plan")},
                                 {"status", str()},
                                 {"created_at_ms", integer()},
                                 {"title", str()},
                                 {"ask_ack", boolean()},
                                 {"follow_up_of", {{"type", {"integer", "null"}}}},
                                 {"persons", integer()},
                                 {"acknowledged", integer()},
                                 {"reached", integer()},
                                 {"finished", integer()},
                                 {"recipients", counts},
                                 {"messages", counts},
                                 {"via", counts}});
  s["Recipient"] = object({{"person_id", integer()},
                           {"name", str()},
                           {"phone", str()},
                           {"via", {{"type", "string"}, {"enum", {"group", "personal", "sms", "none"}}}},
                           {"status", str()},
                           {"adapter_id", str()},
                           {"attempts", integer()},
                           {"last_error", str()},
                           {"sent_at_ms", nullable_id()},
                           {"delivered_at_ms", nullable_id()},
                           {"acked_at_ms", nullable_id()}});
  s["Cancelled"] = object({{"cancelled", boolean()}});
  s["DeadLetter"] = object({{"id", integer()},
                            {"broadcast_id", nullable_id()},
                            {"adapter_id", str()},
                            {"channel", str()},
                            {"address", str()},
                            {"person_id", nullable_id()},
                            {"status", str()},
                            {"attempts", integer()},
                            {"reason", str()},
                            {"at_ms", integer()}});
  s["GroupChat"] = object({{"id", integer()},
                           {"adapter_id", str()},
                           {"chat_id", str()},
                           {"name", str()},
                           {"org_unit_id", nullable_id()},
                           {"org_unit_path", str()}});
  s["GroupChatInput"] =
      object({{"adapter_id", str()}, {"chat_id", str()}, {"name", str()}, {"org_unit_id", nullable_id()}},
             {"adapter_id", "chat_id"});
  s["GroupChatList"] = object({{"items", array_of(ref("GroupChat"))}});
  s["Me"] = object({{"name", str()},
                    {"role", str()},
                    {"person_id", nullable_id()},
                    {"scope", object({{"whole_village", boolean()},
                                      {"org_units", array_of(object({{"id", integer()}, {"path", str()}}))}})}});
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string operation_id(const std::string& method, const std::string& path) {
  std::string id = lower(method);
  bool upper = true;
  for (char c : path) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      id += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    } else {
      upper = true;
    }
  }
  return id;
}

}  // namespace

nlohmann::json openapi_document(const http::RouteTable& routes) {
  json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "villagebot API"},
                 {"version", VILLAGEBOT_VERSION},
                 {"description",
                  "村务助手 API (docs/API.md). The directory, tokens and audit log live under /api/v1/; plugin routes "
                  "under /api/v1/<plugin>/; adapter callbacks under /hooks/<id>."}};
  doc["components"]["securitySchemes"]["bearer"] = {{"type", "http"}, {"scheme", "bearer"}};
  doc["components"]["schemas"] = core_schemas();
  doc["paths"] = json::object();
  std::set<std::string> tags;
  for (const auto& r : routes.all()) {
    std::string path = r->path;
    json op;
    op["operationId"] = operation_id(r->method, r->path + (r->prefix ? "/sub" : ""));
    op["summary"] = r->summary.empty() ? r->method + " " + r->path : r->summary;
    if (!r->description.empty()) op["description"] = r->description;
    const std::string tag = !r->tag.empty()                ? r->tag
                            : path.starts_with("/hooks/")  ? std::string("hooks")
                            : path.starts_with("/api/v1/") ? std::string("api")
                                                           : std::string("server");
    op["tags"] = json::array({tag});
    tags.insert(tag);
    json parameters = json::array();
    // {name} segments are path parameters.
    for (std::size_t at = path.find('{'); at != std::string::npos; at = path.find('{', at + 1)) {
      const std::size_t end = path.find('}', at);
      if (end == std::string::npos) break;
      parameters.push_back(
          {{"name", path.substr(at + 1, end - at - 1)}, {"in", "path"}, {"required", true}, {"schema", str()}});
    }
    if (r->prefix) {
      path += "/{subpath}";
      parameters.push_back({{"name", "subpath"}, {"in", "path"}, {"required", true}, {"schema", str()}});
    }
    for (const auto& q : r->query_params)
      parameters.push_back({{"name", q.name},
                            {"in", "query"},
                            {"required", q.required},
                            {"description", q.description},
                            {"schema", {{"type", q.type}}}});
    if (!parameters.empty()) op["parameters"] = parameters;
    if (!r->request_schema.empty())
      op["requestBody"] = {{"required", true},
                           {"content", {{r->request_content_type, {{"schema", schema_of(r->request_schema)}}}}}};
    json success = {{"description", "OK"}};
    if (!r->response_schema.empty())
      success["content"] = {{r->response_content_type, {{"schema", schema_of(r->response_schema)}}}};
    op["responses"][std::to_string(r->success_status)] = success;
    op["responses"]["default"] = {{"description", "Error"},
                                  {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
    if (!r->public_route) {
      op["security"] = json::array({{{"bearer", json::array()}}});
      op["responses"]["401"] = {{"description", "No, unknown or revoked token"},
                                {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
      op["responses"]["403"] = {{"description", "The token's role or scope does not allow this"},
                                {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
      if (!r->roles.empty()) op["x-roles"] = r->roles;
    }
    doc["paths"][path][lower(r->method)] = op;
  }
  json tag_list = json::array();
  for (const auto& t : tags) tag_list.push_back({{"name", t}});
  doc["tags"] = tag_list;
  return doc;
}

}  // namespace villagebot::runtime
