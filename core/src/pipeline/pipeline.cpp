#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <atomic>

#include <spdlog/spdlog.h>

#include "pipeline/message_log.hpp"
#include "villagebot/text.hpp"

namespace villagebot::pipeline {

namespace {

constexpr std::size_t kMaxText = 4096;
constexpr std::size_t kMaxId = 256;

const Text kApology{"抱歉，系统处理您的消息时出了问题，请稍后再试。",
                    "Sorry, something went wrong while handling your message. Please try again later."};
const Text kTooFast{"您发送得太快了，请稍等一会儿再发。", "You are sending messages too fast; please wait a moment."};
const Text kUnregistered{"您好！您的号码在本村未登记，暂时无法查询或办理。请联系村委会登记。",
                         "Hello! Your number is not registered with the village, so nothing can be shown. Please "
                         "ask the village committee to register you."};
const Text kEmpty{"请发送「帮助」查看可用命令。", "Send \"help\" to see what you can do."};

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

}  // namespace

struct Pipeline::InFlight {
  InboundMessage message;
  std::int64_t log_id = 0;
  std::int64_t person_id = 0;
  std::function<void(SubmitResult)> done;
  std::atomic<bool> finished{false};   // the handler's result or the timeout, whichever came first
  std::atomic<bool> responded{false};  // done() was called
  bool accept_failed = false;          // writer thread only: the accepting commit failed
  // Set by the accepting write job (writer thread), read after it.
  bool duplicate = false;
  bool started = false;  // processing began before the commit
  // Writer thread only: accepted in the open transaction, its answer not yet logged in it.
  bool pending_in_transaction = false;
  RateLimiter::Verdict verdict = RateLimiter::Verdict::allow;
  Replies earlier;  // a duplicate's: the replies stored for the original
  // The answer goes out when both the handler's replies and the accepting
  // commit are there, whichever comes last.
  std::atomic<int> parts_missing{2};
  Replies replies;  // written once, before its part is counted

  // True for the part that completes the answer: its caller responds.
  bool part_done() { return parts_missing.fetch_sub(1) == 1; }
  void respond_processed() { respond(SubmitResult{SubmitResult::Status::processed, replies, {}}); }

  void respond(SubmitResult result) {
    if (!responded.exchange(true) && done) done(std::move(result));
  }
};

Pipeline::Pipeline(PipelineDeps deps)
    : deps_(std::move(deps)), limiter_(deps_.config.rate_limit_messages, deps_.config.rate_limit_window) {
  deps_.metrics.describe("villagebot_inbound_messages_total", "counter", "Inbound messages by adapter and outcome");
  deps_.metrics.describe("villagebot_commands_total", "counter", "Commands handled by plugin and command");
}

void Pipeline::submit(InboundMessage message, std::function<void(SubmitResult)> done) {
  auto reject = [&](std::string why) {
    deps_.metrics.add("villagebot_inbound_messages_total", {{"adapter", message.adapter_id}, {"outcome", "rejected"}});
    done(SubmitResult{SubmitResult::Status::rejected, {}, std::move(why)});
  };
  if (message.sender.empty()) return reject("sender is empty");
  if (message.sender.size() > kMaxId || message.message_id.size() > kMaxId || message.chat_id.size() > kMaxId)
    return reject("sender, message_id or chat is longer than 256 bytes");
  if (message.text.size() > kMaxText) return reject("text is longer than 4096 bytes");
  if (!text::valid_utf8(message.text) || !text::valid_utf8(message.sender) || !text::valid_utf8(message.chat_id) ||
      !text::valid_utf8(message.message_id))
    return reject("text is not valid UTF-8");
  if (message.received_at_ms == 0) message.received_at_ms = message_log::now_ms();

  auto job = std::make_shared<InFlight>();
  job->message = std::move(message);
  job->done = std::move(done);
  bool queue_write = false;
  {
    std::lock_guard lock(accepts_mutex_);
    accepts_.push_back(std::move(job));
    queue_write = !accept_write_queued_;
    accept_write_queued_ = true;
  }
  if (queue_write) write_accepts();
}

// One write job stores every message submitted since the last one was taken:
// under load the writer runs one job per batch for all of them instead of one
// job (a savepoint, three callbacks, a wake-up) per message. The job takes the
// waiting messages when it runs, so everything that arrived until then is in.
// A storage failure fails the whole job: every message in it is answered 503
// and none was processed.
void Pipeline::write_accepts() {
  auto taken = std::make_shared<std::vector<std::shared_ptr<InFlight>>>();
  auto take = [this, taken] {
    std::lock_guard lock(accepts_mutex_);
    taken->swap(accepts_);
    accept_write_queued_ = false;
  };
  // Processing starts as soon as the rows are written, while the commit's
  // fsync runs; each answer waits until this commit is done (see finish()).
  deps_.storage.write_async_pipelined(
      [this, taken, take](Session& s) {
        take();
        for (const auto& job : *taken) {
          auto id = message_log::insert_inbound(s, job->message, "accepted");
          if (!id) {
            job->duplicate = true;
            job->earlier = message_log::replies_to(s, job->message.adapter_id, job->message.message_id);
            continue;
          }
          job->log_id = *id;
          if (limiter_.enabled()) job->verdict = limiter_.check(job->message.adapter_id + ":" + job->message.sender);
          if (job->verdict != RateLimiter::Verdict::allow) {
            const Replies too_fast =
                job->verdict == RateLimiter::Verdict::warn ? Replies{Reply{kTooFast.zh}} : Replies{};
            message_log::insert_answers(s, {{*id, 0, message_log::replies_json(too_fast), 0, "rate_limited"}});
          }
        }
      },
      [this, taken] {
        for (const auto& job : *taken) {
          if (job->duplicate || job->verdict != RateLimiter::Verdict::allow) continue;
          job->started = true;
          job->pending_in_transaction = true;
          ++pending_in_transaction_;
          hand_off(Task{Task::Kind::process, job});
        }
      },
      [this, taken, take](const std::exception_ptr& error) {
        // The job may not have run at all (storage closed, BEGIN failed):
        // then its messages are still waiting to be taken.
        if (error && taken->empty()) take();
        for (const auto& job : *taken) {
          if (std::exchange(job->pending_in_transaction, false)) --pending_in_transaction_;
          accepted(job, error);
        }
      });
}

void Pipeline::accepted(const std::shared_ptr<InFlight>& job, const std::exception_ptr& error) {
  auto count = [this, &job](std::string_view what) {
    deps_.metrics.add("villagebot_inbound_messages_total", {{"adapter", job->message.adapter_id}, {"outcome", what}});
  };
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("cannot store an inbound message from {}: {}", job->message.adapter_id, e.what());
    }
    // Already being processed: its replies must not be logged, and the
    // sender must retry.
    if (job->started) job->accept_failed = true;
    count("unavailable");
    job->respond(SubmitResult{SubmitResult::Status::unavailable, {}, "the message could not be stored; retry later"});
    return;
  }
  if (job->log_id != 0) {
    std::lock_guard lock(flight_mutex_);
    highest_seen_ = std::max(highest_seen_, job->log_id);
    if (job->started) in_flight_.insert(job->log_id);
  }
  if (job->started) {
    // Durable: the answer may go out once the handler is done.
    if (job->part_done()) hand_off(Task{Task::Kind::respond, job});
    return;
  }
  if (job->duplicate) {
    count("duplicate");
    job->respond(SubmitResult{SubmitResult::Status::duplicate, std::move(job->earlier), {}});
    return;
  }
  if (job->verdict != RateLimiter::Verdict::allow) {
    count("rate_limited");
    Replies r;
    if (job->verdict == RateLimiter::Verdict::warn) r.push_back(Reply{kTooFast.zh});
    job->respond(SubmitResult{SubmitResult::Status::rate_limited, std::move(r), {}});
  }
}

void Pipeline::hand_off(Task task) {
  bool wake = false;
  {
    std::lock_guard lock(tasks_mutex_);
    tasks_.push_back(std::move(task));
    // A worker is woken only when every draining one is busy with a task (a
    // slow handler must hold up no one else), up to one per worker thread.
    if (drainers_ == busy_ && drainers_ < deps_.config.workers) {
      ++drainers_;
      wake = true;
    }
  }
  if (wake) deps_.run_blocking([this] { drain(); });
}

void Pipeline::drain() {
  for (;;) {
    Task task;
    {
      std::lock_guard lock(tasks_mutex_);
      if (tasks_.empty()) {
        --drainers_;
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++busy_;
    }
    try {
      if (task.kind == Task::Kind::process) {
        deps_.metrics.add("villagebot_inbound_messages_total",
                          {{"adapter", task.job->message.adapter_id}, {"outcome", "accepted"}});
        process(std::move(task.job));
      } else {
        task.job->respond_processed();
      }
    } catch (const std::exception& e) {  // the drain goes on: other messages wait in the queue
      spdlog::error("answering a message failed: {}", e.what());
    } catch (...) {
      spdlog::error("answering a message failed: an exception that is not a std::exception");
    }
    std::lock_guard lock(tasks_mutex_);
    --busy_;
  }
}

void Pipeline::process(std::shared_ptr<InFlight> job) {
  auto cancel_timer = deps_.after(deps_.config.handler_timeout, [this, job] {
    if (job->finished.exchange(true)) return;
    spdlog::error("a handler took longer than {} ms for a message from {} on {}; the sender got an apology",
                  deps_.config.handler_timeout.count(), text::mask_phone(job->message.sender), job->message.adapter_id);
    deps_.metrics.add("villagebot_handler_failures_total", support::label("reason", "timeout"));
    finish(job, {Reply{kApology.zh}}, "failed");
  });
  Replies replies;
  std::string status = "processed";
  try {
    replies = route(job->message, job->person_id);
  } catch (const std::exception& e) {
    spdlog::error("a handler failed for a message on {}: {}", job->message.adapter_id, e.what());
    deps_.metrics.add("villagebot_handler_failures_total", support::label("reason", "exception"));
    replies = {Reply{kApology.zh}};
    status = "failed";
  }
  if (cancel_timer) cancel_timer();
  if (job->finished.exchange(true)) {
    spdlog::warn("a late handler result for a message on {} was dropped", job->message.adapter_id);
    return;
  }
  finish(job, std::move(replies), status);
}

void Pipeline::finish(const std::shared_ptr<InFlight>& job, Replies replies, std::string_view status) {
  // An answer given before (帮助 for the same roles) names the message that holds it instead.
  const std::size_t key = message_log::RepeatedAnswers::key(replies);
  const std::int64_t replies_of = repeated_.find(replies, key);
  std::string stored = replies_of != 0 ? std::string() : message_log::replies_json(replies);
  job->replies = std::move(replies);
  // The replies are logged in the accepting transaction when the writer's commit
  // hold is still waiting for them (the usual case), else in a later batch, after
  // the answer went out: the answer waits only for the accepting commit. If power
  // fails before that later batch commits, the message is still 'accepted' and is
  // answered again after the restart: nothing is lost. As with accepts, one write
  // job logs every message finished since the last one was taken.
  bool queue_write = false;
  {
    std::lock_guard lock(finishes_mutex_);
    finishes_.push_back(Finished{job, std::move(stored), replies_of, key, std::string(status)});
    queue_write = !finish_write_queued_;
    finish_write_queued_ = true;
  }
  if (queue_write) {
    auto taken = std::make_shared<std::vector<Finished>>();
    auto take = [this, taken] {
      std::lock_guard lock(finishes_mutex_);
      taken->swap(finishes_);
      finish_write_queued_ = false;
    };
    auto mark = std::make_shared<std::int64_t>(-1);
    deps_.storage.write_async(
        [this, taken, take, mark](Session& s) {
          take();
          std::vector<message_log::Answer> answers;
          answers.reserve(taken->size());
          for (const auto& f : *taken) {
            if (std::exchange(f.job->pending_in_transaction, false)) --pending_in_transaction_;
            if (f.job->accept_failed) continue;  // the message itself was not stored
            answers.push_back({f.job->log_id, f.job->person_id, f.replies, f.replies_of, f.status});
          }
          message_log::insert_answers(s, answers);
          // The mark as it stood before this job: its messages still count as in
          // flight until the job has committed.
          std::int64_t written = -1;
          {
            std::lock_guard lock(flight_mutex_);
            if (mark_enabled_) *mark = recovery_mark();
            written = mark_written_;
          }
          if (*mark > written) *mark = below_foreign(s, written, *mark);
          if (*mark > written)
            message_log::set_recovery_mark(s, *mark);
          else
            *mark = -1;
        },
        [this, taken, take, mark](const std::exception_ptr& error) {
          if (error) {
            if (taken->empty()) take();
            spdlog::error("replies to {} message(s) could not be logged; they are answered again at the next start",
                          taken->size());
            return;  // still in flight: the mark stays below them
          }
          // Committed: later answers alike may name these rows.
          for (const auto& f : *taken)
            if (f.key != 0 && f.replies_of == 0 && !f.job->accept_failed)
              repeated_.remember(f.job->replies, f.key, f.job->log_id);
          std::lock_guard lock(flight_mutex_);
          for (const auto& f : *taken) in_flight_.erase(f.job->log_id);
          if (*mark >= 0) mark_written_ = *mark;
        });
  }
  if (job->part_done()) job->respond_processed();  // the accepting commit came first
}

Replies Pipeline::route(const InboundMessage& message, std::int64_t& person_id) {
  const std::string normalised = text::normalise_command(message.text, deps_.config.bot_names);
  static const Person kNobody{};
  const auto found = deps_.directory.find_by_identity(message.identity_kind, message.sender);
  const Person& sender = found ? *found : kNobody;
  person_id = sender.id;
  CommandRequest request{message, sender, normalised, {}, {}, {}, found ? sender.lang : Lang::zh};

  if (found) {
    if (auto prompt = deps_.router.pending_prompt(sender.id)) {
      request.rest = normalised;
      request.args = text::split_ws(normalised);
      if (auto answer = prompt->first(request)) {
        deps_.router.consume_prompt(sender.id, prompt->second);
        return *answer;
      }
    }
    const auto interceptors = deps_.router.interceptors();
    if (!interceptors->empty()) {
      request.rest = normalised;
      request.args = text::split_ws(normalised);
      for (const auto& intercept : *interceptors)
        if (auto answer = intercept(request)) return *answer;
    }
  }
  if (normalised.empty()) return {Reply{request.tr(kEmpty)}};

  auto match = deps_.router.match(normalised);
  if (!match || !CommandRouter::permitted(match->entry->spec, sender)) {
    if (!found) return {Reply{request.tr(kUnregistered)}};
    const auto suggestions = deps_.router.closest(normalised, sender, 3);
    std::string line;
    if (!match) {
      line = request.lang == Lang::en
                 ? "Sorry, I did not understand. Did you mean: " + join(suggestions, ", ") +
                       "? Send \"help\" for all commands."
                 : "没看懂您的意思。您是不是想发：" + join(suggestions, "、") + "？发送「帮助」查看全部命令。";
    } else {
      line = request.lang == Lang::en
                 ? "\"" + match->keyword + "\" is not available to you. Send \"help\" for what you can do."
                 : "「" + match->keyword + "」不在您的权限范围内。发送「帮助」查看您可用的命令。";
    }
    return {Reply{line}};
  }
  request.keyword = match->keyword;
  request.rest = match->rest;
  request.args = text::split_ws(match->rest);
  deps_.metrics.add("villagebot_commands_total",
                    {{"plugin", match->entry->owner}, {"command", match->entry->spec.name}});
  return match->entry->spec.handler(request);
}

// Another process on this database (`villagebot chat`) accepts messages of its own, between
// this pipeline's ids: the mark (moving from `written` to `mark`) never passes one it has not
// answered yet. The one found is remembered (the rows below it were answered when it was found):
// while it stays unanswered, and a chat that died leaves it so until the next start, each job
// looks it up by id instead of scanning a growing range. Rows above the highest id there was
// when another connection last committed are this pipeline's own (no delete ever lowers it):
// only the range below that ceiling is scanned, so without a chat beside the server no job
// scans at all (`PRAGMA data_version` tells whether another connection committed since the
// last look; the writer's own commits do not move it).
std::int64_t Pipeline::below_foreign(Session& s, std::int64_t written, std::int64_t mark) {
  const std::int64_t known = foreign_unanswered_;
  if (known > written && known <= mark) {
    if (message_log::first_unanswered_after(s, known - 1, known) == known) return known - 1;
    written = known;  // answered since
  }
  const std::int64_t version = s.query("PRAGMA data_version")[0].integer(0);
  if (version != foreign_version_) {
    foreign_version_ = version;
    foreign_ceiling_ = s.query("SELECT COALESCE(MAX(id), 0) FROM core_messages")[0].integer(0);
  }
  const std::int64_t up_to = std::min(mark, foreign_ceiling_);
  if (up_to <= written) return mark;
  const std::int64_t first = message_log::first_unanswered_after(s, written, up_to);
  if (first > up_to) return mark;
  foreign_unanswered_ = first;
  return first - 1;
}

std::int64_t Pipeline::recovery_mark() const {
  return in_flight_.empty() ? highest_seen_ : *in_flight_.begin() - 1;
}

std::size_t Pipeline::recover(std::int64_t before_ms) {
  struct Pending {
    std::int64_t id;
    InboundMessage message;
  };
  std::vector<Pending> pending;
  std::vector<std::int64_t> own;  // accepted by this process already (its adapters started first)
  std::int64_t highest = 0;
  std::int64_t stored_mark = 0;
  deps_.storage.read([&](Session& s) {
    highest = s.query("SELECT COALESCE(MAX(id), 0) FROM core_messages")[0].integer(0);
    stored_mark = message_log::recovery_mark(s);
    // Every unanswered message lies above the mark: a scan of the rows since, by id.
    for (const auto& row : s.query("SELECT id, adapter_id, COALESCE(message_id, ''), channel, identity_kind, address, "
                                   "chat_id, text, created_at FROM core_messages WHERE id > ? AND direction = 'in' AND "
                                   "status = 'accepted' ORDER BY id",
                                   {stored_mark})) {
      if (row.integer(8) >= before_ms) {
        own.push_back(row.integer(0));
        continue;
      }
      InboundMessage m;
      m.adapter_id = row.text(1);
      m.message_id = row.text(2);
      m.channel = row.text(3) == "group" ? ChannelKind::group : ChannelKind::personal;
      m.identity_kind = row.text(4);
      m.sender = row.text(5);
      m.chat_id = row.text(6);
      m.text = row.text(7);
      m.received_at_ms = row.integer(8);
      pending.push_back({row.integer(0), std::move(m)});
    }
  });
  {
    // From here on this pipeline moves the mark: below it, every message has
    // been answered, or is in flight here (the recovered ones included).
    std::lock_guard lock(flight_mutex_);
    highest_seen_ = std::max(highest_seen_, highest);
    mark_written_ = std::max(mark_written_, stored_mark);
    for (const auto& p : pending) in_flight_.insert(p.id);
    in_flight_.insert(own.begin(), own.end());
    mark_enabled_ = true;
  }
  for (auto& p : pending) {
    auto job = std::make_shared<InFlight>();
    job->message = p.message;
    job->log_id = p.id;
    job->parts_missing = 1;  // accepted long ago: only the handler is missing
    // The original caller is gone: answer through the adapter's own channel.
    job->done = [this, m = p.message](const SubmitResult& result) {
      for (const auto& r : result.replies) {
        OutboundMessage out;
        out.adapter_id = m.adapter_id;
        out.channel = m.channel;
        out.address = m.channel == ChannelKind::group ? m.chat_id : m.sender;
        out.text = r.text;
        out.priority = Priority::reply;
        deps_.messenger.send(std::move(out));
      }
    };
    deps_.run_blocking([this, job] { process(job); });
  }
  if (!pending.empty()) spdlog::info("recovered {} message(s) accepted before the last stop", pending.size());
  return pending.size();
}

}  // namespace villagebot::pipeline
