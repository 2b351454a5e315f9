#pragma once
#include <functional>
#include <memory>

#include "config/config.hpp"
#include "pipeline/command_router.hpp"
#include "pipeline/rate_limiter.hpp"
#include "support/metrics.hpp"
#include "villagebot/adapter.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/messenger.hpp"
#include "villagebot/storage.hpp"

namespace villagebot::pipeline {

struct PipelineDeps {
  config::PipelineConfig config;
  Storage& storage;
  Directory& directory;
  CommandRouter& router;
  support::Metrics& metrics;
  Messenger& messenger;
  // Runs blocking work on the worker pool.
  std::function<void(std::function<void()>)> run_blocking;
  // Calls fn after the delay on a thread that handlers cannot block.
  std::function<std::function<void()>(std::chrono::milliseconds, std::function<void()>)> after;
};

// Adapter → stored → deduplicated → rate limited → sender resolved → text
// normalised → pending prompt → command router → handler → replies logged.
class Pipeline {
 public:
  explicit Pipeline(PipelineDeps deps);
  void submit(InboundMessage message, std::function<void(SubmitResult)> done);
  // Answers messages that were accepted before `before_ms` (this process's
  // start) but not processed (a crash); their replies go out through the
  // messenger. Messages accepted since are this process's own. Returns how many.
  std::size_t recover(std::int64_t before_ms);
  // What the pipeline answers this sender for this text, without storing it.
  Replies route(const InboundMessage& message, std::int64_t& person_id);

 private:
  struct InFlight;
  void process(std::shared_ptr<InFlight> job);
  void finish(const std::shared_ptr<InFlight>& job, Replies replies, std::string_view status);

  PipelineDeps deps_;
  RateLimiter limiter_;
};

}  // namespace villagebot::pipeline
