#pragma once
// The announcements REST API under /api/v1/announcements/ (docs/API.md and the
// OpenAPI document): create (or preview) a notice, schedule it, cancel it, list,
// detail with counts by status, per-recipient status (paged), and the CSV of
// who acknowledged.
#include <map>
#include <string>
#include <vector>

#include "notices.hpp"
#include "plugin_support.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::announcements {

struct AnnouncementsApiDeps {
  Notices& notices;
  const std::vector<Template>& templates;
  ChannelPolicy default_policy = ChannelPolicy::group_first;
};

std::vector<Registration> register_announcements_api(RouteRegistry& routes, AnnouncementsApiDeps deps);

// Times in the API: plugin_support::parse_time (RFC 3339, village time or unix ms).
using plugin_support::parse_time;

}  // namespace villagebot::announcements
