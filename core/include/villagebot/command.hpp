#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "villagebot/directory.hpp"
#include "villagebot/handle.hpp"
#include "villagebot/i18n.hpp"
#include "villagebot/message.hpp"

namespace villagebot {

// What a command handler sees: the normalised text split into the matched
// keyword and its arguments, the sender, and the sender's language.
struct CommandRequest {
  const InboundMessage& message;
  const Person& sender;           // id 0 for an unregistered sender (only allow_unregistered commands)
  std::string text;               // normalised (PRODUCT.md §4)
  std::string keyword;            // the keyword or alias that matched, as written in the spec
  std::string rest;               // text after the keyword, trimmed
  std::vector<std::string> args;  // rest split on whitespace
  Lang lang = Lang::zh;

  [[nodiscard]] const std::string& tr(const Text& t) const { return t.in(lang); }
};

using Replies = std::vector<Reply>;
using CommandHandler = std::function<Replies(const CommandRequest&)>;

struct CommandSpec {
  std::string name;                   // stable id, e.g. "points.balance"
  std::vector<std::string> keywords;  // first token (or CJK prefix) of the text: 积分, jf, points
  std::vector<std::string> patterns;  // ECMAScript regexes over the whole text, tried after keywords
  std::vector<std::string> roles;     // any of these may use it; empty: any registered person
  Text help;                          // one line for 帮助
  CommandHandler handler;
  bool allow_unregistered = false;  // 帮助, 退订: answered even for unknown senders
};

// A plugin asked this sender a question; the next message goes here first.
// Return std::nullopt to let the message fall through to the command router.
using PromptHandler = std::function<std::optional<Replies>(const CommandRequest&)>;

class CommandRegistry {
 public:
  virtual ~CommandRegistry() = default;
  // Throws std::invalid_argument on a keyword already taken or an invalid regex.
  [[nodiscard]] virtual Registration add(CommandSpec spec) = 0;
  // Replaces any pending prompt of this person. On timeout the prompt is dropped.
  virtual void ask(std::int64_t person_id, std::chrono::seconds timeout, PromptHandler handler) = 0;
  // Sees every message of a registered sender after their prompt and before the commands
  // (answers to an active alert: 1, 2, 收到). Return std::nullopt to pass the message on.
  // It runs for every message: keep it cheap (an in-memory lookup), and keep its state durable
  // elsewhere, since unlike a prompt it is meant to outlive a restart (re-register in start()).
  [[nodiscard]] virtual Registration intercept(PromptHandler handler) = 0;
};

}  // namespace villagebot
