#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/command.hpp"
#include "villagebot/message.hpp"
#include "villagebot/storage.hpp"

// The message log: every inbound message, with its status and the replies it got (core_010;
// before it, replies were 'out' rows of their own, which are still read for duplicates).
namespace villagebot::pipeline::message_log {

std::int64_t now_ms();
// nullopt when (adapter, message_id) was seen before.
std::optional<std::int64_t> insert_inbound(Session& s, const InboundMessage& m, std::string_view status);
// The replies to several inbound messages and their final status, in each message's own row.
struct Answer {
  std::int64_t inbound_id = 0;
  std::int64_t person_id = 0;
  std::string_view replies;  // as replies_json() writes them
  std::string_view status;
};
// Reply texts as the JSON array stored with the message: ["...","..."].
std::string replies_json(const Replies& replies);
void insert_answers(Session& s, const std::vector<Answer>& answers);
// What was answered to an earlier copy of this message.
Replies replies_to(Session& s, std::string_view adapter_id, std::string_view message_id);
// The recovery mark: every inbound message with an id at or below it has been
// answered (core_inbound_mark; 0 when there is none yet).
std::int64_t recovery_mark(Session& s);
void set_recovery_mark(Session& s, std::int64_t scan_from);
// The lowest id in (after, up_to] of an inbound message not answered yet (status
// accepted), else up_to + 1.
std::int64_t first_unanswered_after(Session& s, std::int64_t after, std::int64_t up_to);

}  // namespace villagebot::pipeline::message_log
