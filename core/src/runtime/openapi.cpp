#include "runtime/openapi.hpp"

#ifndef VILLAGEBOT_VERSION
#define VILLAGEBOT_VERSION "0.0.0"
#endif

namespace villagebot::runtime {

nlohmann::json openapi_document(const http::RouteTable& routes) {
  nlohmann::json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "villagebot API"},
                 {"version", VILLAGEBOT_VERSION},
                 {"description",
                  "村务助手 API. Plugin routes live under /api/v1/<plugin>/; adapter callbacks under /hooks/<id>."}};
  doc["components"]["securitySchemes"]["bearer"] = {{"type", "http"}, {"scheme", "bearer"}};
  doc["components"]["schemas"]["Error"] = {
      {"type", "object"},
      {"properties",
       {{"error",
         {{"type", "object"}, {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}};
  doc["paths"] = nlohmann::json::object();
  for (const auto& r : routes.all()) {
    std::string path = r->path;
    nlohmann::json op;
    op["summary"] = r->summary.empty() ? r->method + " " + r->path : r->summary;
    op["responses"]["200"] = {{"description", "OK"}};
    op["responses"]["default"] = {
        {"description", "Error"},
        {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
    if (r->prefix) {
      path += "/{subpath}";
      op["parameters"] = nlohmann::json::array(
          {{{"name", "subpath"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
    }
    if (!r->public_route) {
      op["security"] = nlohmann::json::array({{{"bearer", nlohmann::json::array()}}});
      op["responses"]["401"] = {{"description", "No or unknown token"}};
      if (!r->roles.empty()) op["x-roles"] = r->roles;
    }
    std::string method = r->method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    doc["paths"][path][method] = op;
  }
  return doc;
}

}  // namespace villagebot::runtime
