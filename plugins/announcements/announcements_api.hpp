#pragma once
// The announcements REST API under /api/v1/announcements/ (docs/API.md and the
// OpenAPI document): create (or preview) a notice, schedule it, cancel it, list,
// detail with counts by status, per-recipient status (paged), and the CSV of
// who acknowledged.
#include <map>
#include <string>
#include <vector>

#include "notices.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::announcements {

struct AnnouncementsApiDeps {
  Notices& notices;
  const std::vector<Template>& templates;
  ChannelPolicy default_policy = ChannelPolicy::group_first;
};

std::vector<Registration> register_announcements_api(RouteRegistry& routes, AnnouncementsApiDeps deps);

// "2026-11-29T08:00:00+08:00", "2026-11-29T00:00:00Z", "2026-11-29 08:00" (village time) or
// unix milliseconds; nullopt when it is none of them.
std::optional<std::int64_t> parse_time(const std::string& text, std::int64_t utc_offset_s);

}  // namespace villagebot::announcements
