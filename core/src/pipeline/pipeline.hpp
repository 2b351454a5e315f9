#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  // Work the writer thread hands to the worker pool: start processing a
  // message whose row is written, or answer one whose commit is done.
  struct Task {
    enum class Kind { process, respond } kind = Kind::process;
    std::shared_ptr<InFlight> job;
  };
  struct Finished {
    std::shared_ptr<InFlight> job;
    Replies replies;
    std::string status;
  };
  void write_accepts();
  void accepted(const std::shared_ptr<InFlight>& job, const std::exception_ptr& error);
  void process(std::shared_ptr<InFlight> job);
  void finish(const std::shared_ptr<InFlight>& job, Replies replies, std::string_view status);
  // Queues a task; a worker is woken only when none is already draining the
  // queue (or the queue is long), so that a batch of 64 messages costs the
  // writer a few wake-ups instead of 64, and the answers' JSON is built on a
  // worker rather than on the writer, which every message waits for.
  void hand_off(Task task);
  void drain();

  PipelineDeps deps_;
  RateLimiter limiter_;
  // Messages submitted, and messages answered, waiting for their write job
  // (one job takes all that are waiting; *_queued_: such a job is queued).
  std::mutex accepts_mutex_;
  std::vector<std::shared_ptr<InFlight>> accepts_;
  bool accept_write_queued_ = false;
  std::mutex finishes_mutex_;
  std::vector<Finished> finishes_;
  bool finish_write_queued_ = false;
  std::mutex tasks_mutex_;
  std::deque<Task> tasks_;
  int drainers_ = 0;  // workers draining tasks_
};

}  // namespace villagebot::pipeline
