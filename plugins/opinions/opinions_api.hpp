#pragma once
// The opinions REST API under /api/v1/opinions/ (docs/API.md and the OpenAPI document):
// tickets (list, detail, answer, CSV), satisfaction figures, polls (create, list, results, close, CSV), 四议两公开
// proposals. An anonymous ticket's sender is shown only to supervisors.
#include <vector>

#include "polls.hpp"
#include "proposals.hpp"
#include "tickets.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/http.hpp"

namespace villagebot::opinions {

std::vector<Registration> register_opinions_api(RouteRegistry& routes, Tickets& tickets, Polls& polls,
                                                Proposals& proposals);

}  // namespace villagebot::opinions
