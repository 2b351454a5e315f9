#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pipeline/command_router.hpp"
#include "pipeline/message_log.hpp"
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
  // For the storage writer's commit hold (writer thread only): messages accepted in the open
  // transaction are being processed and their answers have not been logged in it yet.
  [[nodiscard]] bool answers_pending_in_transaction() const { return pending_in_transaction_ > 0; }

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
    std::string replies;          // message_log::replies_json, built before the writer gets it
    std::int64_t replies_of = 0;  // instead: the message whose row holds the same replies
    std::size_t key = 0;          // RepeatedAnswers::key (0: too short to share)
    std::string status;
  };
  void write_accepts();
  void accepted(const std::shared_ptr<InFlight>& job, const std::exception_ptr& error);
  void process(std::shared_ptr<InFlight> job);
  void finish(const std::shared_ptr<InFlight>& job, Replies replies, std::string_view status);
  // Queues a task; a worker is woken only when no draining worker is free to
  // take it, so that a batch of 64 messages costs the writer a wake-up or two
  // instead of 64, and the answers' JSON is built on a worker rather than on
  // the writer, which every message waits for.
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
  // The recovery mark (core_inbound_mark): ids of messages accepted and not
  // yet answered, the highest id seen, and whether this pipeline may move the
  // mark (only one that ran recover(): before, older unanswered rows may lie
  // below it). The mark written is min(in flight) - 1, or the highest id seen.
  std::int64_t recovery_mark() const;                                               // flight_mutex_ held
  std::int64_t below_foreign(Session& s, std::int64_t written, std::int64_t mark);  // writer only
  std::mutex flight_mutex_;
  std::set<std::int64_t> in_flight_;
  std::int64_t highest_seen_ = 0;
  bool mark_enabled_ = false;
  std::int64_t mark_written_ = -1;
  // The lowest inbound message of another process found unanswered above the mark
  // (0: none); only the writer's jobs touch it.
  std::int64_t foreign_unanswered_ = 0;
  // Another connection's last commit as the writer last saw it (PRAGMA data_version, -1: not
  // yet), and the highest message id there was then: rows above it are this pipeline's own.
  std::int64_t foreign_version_ = -1;
  std::int64_t foreign_ceiling_ = 0;
  // Messages accepted in the writer's open transaction whose answers it has not logged (writer only).
  int pending_in_transaction_ = 0;
  message_log::RepeatedAnswers repeated_;
  std::mutex tasks_mutex_;
  std::deque<Task> tasks_;
  int drainers_ = 0;  // workers draining tasks_
  int busy_ = 0;      // of those, running a task
};

}  // namespace villagebot::pipeline
