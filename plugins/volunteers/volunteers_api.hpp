#pragma once
// The volunteers REST API under /api/v1/volunteers/ (docs/API.md and the OpenAPI document):
// posts, shifts and their sign-ups, recurring templates, the rota (preview, adjust, publish),
// the fairness report, swaps on offer, a person's record (no-shows) and unavailability, and the
// iCalendar feeds.
#include <vector>

#include "shifts.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::volunteers {

std::vector<Registration> register_volunteers_api(RouteRegistry& routes, Shifts& shifts, Directory& directory);

}  // namespace villagebot::volunteers
