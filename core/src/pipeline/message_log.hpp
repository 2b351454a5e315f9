#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "villagebot/command.hpp"
#include "villagebot/message.hpp"
#include "villagebot/storage.hpp"

// The message log: every inbound message, with its status and the replies it got (core_010;
// before it, replies were 'out' rows of their own, which are still read for duplicates). A
// repeated answer is stored once and named by the later messages (core_011, RepeatedAnswers).
namespace villagebot::pipeline::message_log {

std::int64_t now_ms();
// nullopt when (adapter, message_id) was seen before.
std::optional<std::int64_t> insert_inbound(Session& s, const InboundMessage& m, std::string_view status);
// The replies to several inbound messages and their final status, in each message's own row.
struct Answer {
  std::int64_t inbound_id = 0;
  std::int64_t person_id = 0;
  std::string_view replies;     // as replies_json() writes them; ignored when replies_of is set
  std::int64_t replies_of = 0;  // the same texts are stored with this (committed) message
  std::string_view status;
};
// Reply texts as the JSON array stored with the message: ["...","..."].
std::string replies_json(const Replies& replies);
void insert_answers(Session& s, const std::vector<Answer>& answers);
// The answers given again and again (帮助 for the same roles, a catalogue), each with the message
// whose committed row holds its texts, so that a later message answered alike stores a reference
// instead of a kilobyte of the same text. Only answers of kMinBytes or more are kept, the last
// kCapacity of them (one slot replaced at a time, oldest first): an answer given once and never
// again costs one slot for a while, and a repeated one that was pushed out is stored in full
// once more and kept again. Thread-safe: workers find, the writer remembers after its commit.
class RepeatedAnswers {
 public:
  static constexpr std::size_t kMinBytes = 256;
  static constexpr std::size_t kCapacity = 64;

  // 0 when these replies are too short to be worth a reference.
  [[nodiscard]] static std::size_t key(const Replies& replies);
  // The message whose row holds exactly these replies, 0 when none is known.
  [[nodiscard]] std::int64_t find(const Replies& replies, std::size_t key) const;
  // Only for a message whose row holding the replies has been committed.
  void remember(const Replies& replies, std::size_t key, std::int64_t message_id);

 private:
  struct Slot {
    std::size_t key = 0;
    Replies replies;
    std::int64_t message_id = 0;
  };
  [[nodiscard]] std::int64_t find_locked(const Replies& replies, std::size_t key) const;  // mutex_ held
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
  std::size_t next_ = 0;  // the slot replaced next once all are taken
};

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
