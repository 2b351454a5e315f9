#include "pipeline/pipeline.hpp"

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
  // The answer goes out when both the handler's replies and the accepting
  // commit are there, whichever comes last.
  std::atomic<int> parts_missing{2};
  Replies replies;  // written once, before its part is counted

  void part_done() {
    if (parts_missing.fetch_sub(1) == 1) respond(SubmitResult{SubmitResult::Status::processed, replies, {}});
  }

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
    deps_.metrics.add("villagebot_inbound_messages_total",
                      support::label("adapter", message.adapter_id) + "," + support::label("outcome", "rejected"));
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
  struct Outcome {
    bool duplicate = false;
    bool started = false;  // processing began before the commit
    RateLimiter::Verdict verdict = RateLimiter::Verdict::allow;
    Replies earlier;
  };
  auto outcome = std::make_shared<Outcome>();
  auto count = [this, job](std::string_view what) {
    deps_.metrics.add("villagebot_inbound_messages_total",
                      support::label("adapter", job->message.adapter_id) + "," + support::label("outcome", what));
  };
  // Processing starts as soon as the row is written, while the commit's fsync
  // runs; the answer waits until this commit is done (see finish()).
  deps_.storage.write_async_pipelined(
      [this, job, outcome](Session& s) {
        auto id = message_log::insert_inbound(s, job->message, "accepted");
        if (!id) {
          outcome->duplicate = true;
          outcome->earlier = message_log::replies_to(s, job->message.adapter_id, job->message.message_id);
          return;
        }
        job->log_id = *id;
        outcome->verdict = limiter_.check(job->message.adapter_id + ":" + job->message.sender);
        if (outcome->verdict != RateLimiter::Verdict::allow) {
          message_log::set_inbound_status(s, *id, "rate_limited", 0);
          if (outcome->verdict == RateLimiter::Verdict::warn)
            message_log::insert_replies(s, *id, job->message, 0, {Reply{kTooFast.zh}});
        }
      },
      [this, job, outcome, count] {
        if (outcome->duplicate || outcome->verdict != RateLimiter::Verdict::allow) return;
        outcome->started = true;
        count("accepted");
        deps_.run_blocking([this, job] { process(job); });
      },
      [job, outcome, count](const std::exception_ptr& error) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            spdlog::error("cannot store an inbound message from {}: {}", job->message.adapter_id, e.what());
          }
          // Already being processed: its replies must not be logged, and the
          // sender must retry.
          if (outcome->started) job->accept_failed = true;
          count("unavailable");
          job->respond(
              SubmitResult{SubmitResult::Status::unavailable, {}, "the message could not be stored; retry later"});
          return;
        }
        if (outcome->started) {
          job->part_done();  // durable: the answer may go out once the handler is done
          return;
        }
        if (outcome->duplicate) {
          count("duplicate");
          job->respond(SubmitResult{SubmitResult::Status::duplicate, std::move(outcome->earlier), {}});
          return;
        }
        if (outcome->verdict != RateLimiter::Verdict::allow) {
          count("rate_limited");
          Replies r;
          if (outcome->verdict == RateLimiter::Verdict::warn) r.push_back(Reply{kTooFast.zh});
          job->respond(SubmitResult{SubmitResult::Status::rate_limited, std::move(r), {}});
        }
      });
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
  job->replies = replies;
  // The replies are logged in a later batch than the accepting one, after the
  // answer went out: the answer waits only for the accepting commit. If power
  // fails before this batch commits, the message is still 'accepted' and is
  // answered again after the restart: nothing is lost.
  deps_.storage.write_async(
      [job, replies = std::move(replies), status = std::string(status)](Session& s) {
        if (job->accept_failed) return;  // the message itself was not stored
        message_log::insert_replies(s, job->log_id, job->message, job->person_id, replies);
        message_log::set_inbound_status(s, job->log_id, status, job->person_id);
      },
      [job](const std::exception_ptr& error) {
        if (error) spdlog::error("replies to a message on {} could not be logged", job->message.adapter_id);
      });
  job->part_done();
}

Replies Pipeline::route(const InboundMessage& message, std::int64_t& person_id) {
  const std::string normalised = text::normalise_command(message.text, deps_.config.bot_names);
  const auto found = deps_.directory.find_by_identity(message.identity_kind, message.sender);
  const Person sender = found.value_or(Person{});
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
  deps_.metrics.add("villagebot_commands_total", support::label("plugin", match->entry->owner) + "," +
                                                     support::label("command", match->entry->spec.name));
  return match->entry->spec.handler(request);
}

std::size_t Pipeline::recover(std::int64_t before_ms) {
  struct Pending {
    std::int64_t id;
    InboundMessage message;
  };
  std::vector<Pending> pending;
  deps_.storage.read([&](Session& s) {
    for (const auto& row : s.query("SELECT id, adapter_id, COALESCE(message_id, ''), channel, identity_kind, address, "
                                   "chat_id, text, created_at FROM core_messages WHERE direction = 'in' AND "
                                   "status = 'accepted' AND created_at < ? ORDER BY id",
                                   {before_ms})) {
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
