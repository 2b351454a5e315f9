#pragma once
#include <nlohmann/json.hpp>

#include "http/route_table.hpp"

namespace villagebot::runtime {
// An OpenAPI 3 document of every registered route.
nlohmann::json openapi_document(const http::RouteTable& routes);
}  // namespace villagebot::runtime
