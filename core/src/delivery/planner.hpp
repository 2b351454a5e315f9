#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "delivery/outbox.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/storage.hpp"

// From an audience and a channel policy to concrete outbox rows (issue 4 §6).
namespace villagebot::delivery {

struct Channel {
  std::string id;             // adapter instance id
  std::string identity_kind;  // phone, wecom, dingtalk ...
  bool sms = false;
  bool personal = true;
  bool group = false;
  double cost_per_segment = 0;
  std::string sms_signature;  // counted in the parts of every SMS
};

struct Recipient {
  std::int64_t person_id = 0;
  std::size_t row = 0;  // index into Planned::rows; npos: not reached
  std::string via;      // group, personal, sms, none
};

struct Planned {
  DeliveryPlan plan;
  std::vector<OutboxRow> rows;  // without broadcast id and timestamps
  std::vector<Recipient> recipients;
};

// Channels in config order. Reads the directory and core_group_chats in the session.
Planned plan_broadcast(Session& session, Directory& directory, const std::vector<Channel>& channels,
                       const Broadcast& broadcast);

// The text one recipient gets: English for English speakers when there is one;
// {name} and {household} filled in when the broadcast is personalised (a group
// post reads 各位村民 / 各户).
std::string personalised_text(const Broadcast& broadcast, const std::string& name, const std::string& household,
                              bool english, bool group);

// The personal route to one person under a policy: the chosen channel's index
// and the address, or npos (opted_out tells why).
struct PersonalRoute {
  std::size_t channel = static_cast<std::size_t>(-1);
  std::string address;
  bool opted_out = false;
};
PersonalRoute route_person(Session& session, std::int64_t person_id, const std::vector<Channel>& channels,
                           bool essential, bool sms_only);

}  // namespace villagebot::delivery
