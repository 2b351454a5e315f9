#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "villagebot/storage.hpp"

// The append-only audit log (core_audit_log): who changed what, when, with the
// record before and after. Written in the same transaction as the change, so
// a change without its entry (or an entry without its change) cannot exist.
namespace villagebot::directory::audit {

struct Actor {
  std::string name;  // the API token's name, or cli:<user>
  std::string role;  // the token's role ("" for the command line)
  std::string via;   // api, cli
};

// The command line's actor: cli:<login name>.
Actor cli_actor();

struct Change {
  std::string action;  // person.create, household.update, org_unit.delete, token.revoke ...
  std::string entity;  // person, household, org_unit, token, import
  std::string entity_id;
  nlohmann::json before;  // null when created
  nlohmann::json after;   // null when deleted
};

void record(Session& session, const Actor& actor, const Change& change);

struct Query {
  std::string entity, entity_id, actor, action;
  std::int64_t page = 1, per_page = 50;
};
// {"items":[...], "total":N, "page":..., "per_page":...}, newest first.
nlohmann::json list(Session& session, const Query& query);

}  // namespace villagebot::directory::audit
