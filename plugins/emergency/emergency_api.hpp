#pragma once
// The emergency REST API under /api/v1/emergency/ (docs/API.md and the OpenAPI
// document): trigger an alert, list, detail, roll call, stand-down, the timeline
// (JSON and CSV for the after-action review), statistics without drills, teams.
#include <vector>

#include "alerts.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::emergency {

std::vector<Registration> register_emergency_api(RouteRegistry& routes, Alerts& alerts, std::int64_t utc_offset_s);

}  // namespace villagebot::emergency
