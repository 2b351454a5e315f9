#pragma once
// The officials' web console (issue 12): the files of core/web/, embedded at build time
// (cmake/EmbedWeb.cmake), served at / and /console/ with a content security policy that lets
// the page talk to this server only.
#include <string_view>
#include <vector>

#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::runtime {

struct WebAsset {
  std::string_view path;  // relative to core/web/, e.g. "app.js", "views/notices.js"
  std::string_view content_type;
  std::string_view body;
};

// Generated (web_assets.cpp).
const std::vector<WebAsset>& web_assets();

// GET / (index.html) and GET /console/<file>. Public: the page itself holds no data; every
// call it makes goes to /api/v1 with the token the official types in.
std::vector<Registration> register_console(RouteRegistry& routes);

}  // namespace villagebot::runtime
