#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "villagebot/command.hpp"

namespace villagebot::pipeline {

// Keywords, aliases and patterns of every loaded plugin, and the prompts
// plugins are waiting on.
class CommandRouter final : public CommandRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    CommandSpec spec;
    std::string owner;  // plugin name, for metrics
    std::vector<std::regex> patterns;
    std::uint64_t order = 0;
  };
  struct Match {
    std::shared_ptr<const Entry> entry;
    std::string keyword;
    std::string rest;
  };

  Registration add(CommandSpec spec) override;
  Registration add_owned(CommandSpec spec, std::string owner);
  void ask(std::int64_t person_id, std::chrono::seconds timeout, PromptHandler handler) override;
  Registration intercept(PromptHandler handler) override;
  // The interceptors in registration order (a snapshot: no lock held while they run).
  [[nodiscard]] std::shared_ptr<const std::vector<PromptHandler>> interceptors() const;

  [[nodiscard]] std::optional<Match> match(const std::string& normalised) const;
  // The commands this sender may use, in registration order.
  [[nodiscard]] std::vector<std::shared_ptr<const Entry>> allowed_for(const Person& sender) const;
  [[nodiscard]] static bool permitted(const CommandSpec& spec, const Person& sender);
  // The keywords closest to what was typed, among the sender's commands.
  [[nodiscard]] std::vector<std::string> closest(const std::string& normalised, const Person& sender,
                                                 std::size_t n) const;

  // The sender's pending prompt, if it has not expired, with its generation.
  std::optional<std::pair<PromptHandler, std::uint64_t>> pending_prompt(std::int64_t person_id);
  // Drops the prompt once answered, unless a newer one was asked meanwhile.
  void consume_prompt(std::int64_t person_id, std::uint64_t generation);

 private:
  struct Prompt {
    PromptHandler handler;
    Clock::time_point expires;
    std::uint64_t generation = 0;
  };
  mutable std::shared_mutex mutex_;
  std::uint64_t next_order_ = 1;
  std::map<std::string, std::shared_ptr<const Entry>> by_keyword_;  // keyword lower-cased
  std::vector<std::shared_ptr<const Entry>> entries_;
  std::mutex prompts_mutex_;
  std::map<std::int64_t, Prompt> prompts_;
  std::uint64_t next_generation_ = 1;
  mutable std::mutex interceptors_mutex_;
  std::map<std::uint64_t, PromptHandler> interceptor_map_;
  std::shared_ptr<const std::vector<PromptHandler>> interceptors_ = std::make_shared<std::vector<PromptHandler>>();
  std::uint64_t next_interceptor_ = 1;
};

}  // namespace villagebot::pipeline
