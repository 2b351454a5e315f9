#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "villagebot/handle.hpp"

namespace villagebot {

// The server's view of a request, free of Beast so that plugins and adapters
// compile without it.
struct HttpRequest {
  std::string method;  // GET, POST ...
  std::string target;  // path and query as received
  std::string path;
  std::string query;
  std::string route_suffix;                        // the path after the route's prefix
  std::map<std::string, std::string> path_params;  // {name} segments of the route's path, decoded
  std::map<std::string, std::string> headers;      // names in lower case
  std::string body;
  std::string remote_address;
  std::string principal;                 // API token name, when authenticated
  std::string principal_role;            // its role
  std::int64_t principal_person_id = 0;  // the person the token acts for (a cadre's scope), 0: none

  [[nodiscard]] std::string header(std::string_view name) const;       // "" when absent; name any case
  [[nodiscard]] std::string query_param(std::string_view name) const;  // percent-decoded; "" when absent
  [[nodiscard]] std::string path_param(std::string_view name) const;   // "" when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, const nlohmann::json& body);
  // Every error a client sees is JSON: {"error":{"code":..., "message":...}}.
  static HttpResponse error(int status, std::string_view code, std::string_view message);
  static HttpResponse text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

using Responder = std::function<void(HttpResponse)>;
// Handlers run on a worker thread and may block; call `respond` exactly once.
using HttpHandler = std::function<void(const HttpRequest&, Responder respond)>;

// For the OpenAPI document.
struct ParamDoc {
  std::string name;
  std::string description;
  std::string type = "string";  // string, integer, boolean
  bool required = false;
};

struct RouteSpec {
  std::string method;  // GET, POST, PUT, DELETE
  // For plugins relative to /api/v1/<plugin>/. A segment {name} matches one
  // path segment (HttpRequest::path_params); literal segments win over it.
  std::string path;
  bool prefix = false;             // also match sub-paths (route_suffix holds the rest)
  std::vector<std::string> roles;  // API routes: token roles allowed (empty: any valid token)
  bool public_route = false;       // no token needed (webhooks verify their own signatures)
  // The handler never blocks (no database, no outbound I/O; it may submit()):
  // run it on the network thread and save a thread hop per request.
  bool non_blocking = false;
  std::size_t max_body_bytes = 0;  // replaces the server's body_limit (larger or smaller); 0: that limit
  // The OpenAPI document: every route has a summary; JSON Schemas as JSON text.
  std::string summary;
  std::string description;
  std::string tag;
  std::vector<ParamDoc> query_params;
  std::string request_schema;  // "" when there is no body
  std::string request_content_type = "application/json";
  std::string response_schema;  // of the success response
  std::string response_content_type = "application/json";
  int success_status = 200;
  HttpHandler handler;
};

class RouteRegistry {
 public:
  virtual ~RouteRegistry() = default;
  // Throws std::invalid_argument when the method and path are taken.
  [[nodiscard]] virtual Registration add(RouteSpec spec) = 0;
};

}  // namespace villagebot
