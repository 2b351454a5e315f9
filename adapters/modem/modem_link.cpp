#include "modem_link.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "at.hpp"
#include "villagebot/text.hpp"

namespace villagebot::adapters::modem {

namespace {

using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool any_line_starts(const AtResult& r, std::string_view prefix) {
  for (const auto& l : r.lines)
    if (l.starts_with(prefix)) return true;
  return false;
}

}  // namespace

std::string AtResult::describe() const {
  switch (status) {
    case Status::ok:
      return "OK";
    case Status::error:
      return final;
    case Status::timeout:
      return "no answer in time";
    case Status::io_error:
      return "the line to the modem is down";
  }
  return final;
}

ModemLink::ModemLink(LinkSettings settings, Handlers handlers, spdlog::logger& logger)
    : settings_(std::move(settings)), handlers_(std::move(handlers)), logger_(logger) {}

ModemLink::~ModemLink() {
  stop();
}

void ModemLink::start() {
  work_.emplace(io_.get_executor());
  asio::co_spawn(io_, run(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void ModemLink::stop() {
  stopped_ = true;
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    stopping_ = true;
    broken("the adapter is stopping");
    sleep_.cancel();
    // A pending timer would keep io_.run() going until it fires.
    for (const auto& t : timers_) t->cancel();
  });
  work_.reset();
  thread_.join();
  set_state(State::stopped, "");
}

void ModemLink::post(Job job) {
  if (stopped_) {
    if (job.cancelled) job.cancelled();
    return;
  }
  asio::post(io_, [this, job = std::move(job)]() mutable {
    if (broken_ || stopping_) {
      if (job.cancelled) job.cancelled();
      return;
    }
    jobs_.push_back(std::move(job));
    jobs_signal_.cancel();
  });
}

void ModemLink::dispatch(std::function<void()> fn) {
  // After stop() nothing runs the io_context: a handler left in it would keep its owner alive.
  if (!stopped_) asio::post(io_, std::move(fn));
}

void ModemLink::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  if (stopped_) return;
  asio::post(io_, [this, delay, fn = std::move(fn)]() mutable {
    if (stopping_) return;
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timers_.insert(timer);
    timer->async_wait([timer, fn = std::move(fn), this](boost::system::error_code ec) {
      timers_.erase(timer);
      if (!ec && !stopping_) fn();
    });
  });
}

bool ModemLink::ready() const {
  std::lock_guard lock(state_mutex_);
  return state_ == State::running;
}

bool ModemLink::wait_ready(std::chrono::milliseconds limit) const {
  std::unique_lock lock(state_mutex_);
  state_cv_.wait_for(lock, limit, [this] { return state_ == State::running || state_ == State::stopped; });
  return state_ == State::running;
}

nlohmann::json ModemLink::health() const {
  std::lock_guard lock(state_mutex_);
  static constexpr const char* kNames[] = {"starting", "running", "disconnected", "stopped"};
  nlohmann::json out{{"state", kNames[static_cast<int>(state_)]}, {"device", settings_.device}};
  if (!error_.empty()) out["error"] = error_;
  if (state_ == State::running) out["connected_since_ms"] = connected_since_ms_;
  out["reconnects"] = reconnects_;
  return out;
}

void ModemLink::set_state(State s, std::string error) {
  std::lock_guard lock(state_mutex_);
  if (s == State::running && state_ != State::running) {
    connected_since_ms_ = now_ms();
    ++reconnects_;
  }
  state_ = s;
  error_ = std::move(error);
  state_cv_.notify_all();
}

bool ModemLink::open(std::string& why) {
  boost::system::error_code ec;
  port_.open(settings_.device, ec);
  if (ec) {
    why = "cannot open " + settings_.device + ": " + ec.message() + " (设备未连接 / is the modem plugged in?)";
    return false;
  }
  // Some USB modems ignore the speed of their virtual port; a pseudo-terminal refuses some options.
  port_.set_option(asio::serial_port_base::baud_rate(settings_.baud), ec);
  port_.set_option(asio::serial_port_base::character_size(8), ec);
  port_.set_option(asio::serial_port_base::parity(asio::serial_port_base::parity::none), ec);
  port_.set_option(asio::serial_port_base::stop_bits(asio::serial_port_base::stop_bits::one), ec);
  port_.set_option(asio::serial_port_base::flow_control(asio::serial_port_base::flow_control::none), ec);
  rx_.clear();
  broken_ = false;
  broken_reason_.clear();
  report_pdu_next_ = skip_pdu_next_ = false;
  needs_resync_ = false;
  timeouts_in_a_row_ = 0;
  ++generation_;
  return true;
}

void ModemLink::broken(const std::string& why) {
  if (!broken_) {
    broken_ = true;
    broken_reason_ = why;
  }
  boost::system::error_code ec;
  port_.cancel(ec);
  signal_.cancel();
  jobs_signal_.cancel();
}

void ModemLink::close(const std::string& why) {
  broken(why);
  boost::system::error_code ec;
  port_.close(ec);
  ++generation_;
  pending_ = nullptr;
  auto jobs = std::move(jobs_);
  jobs_.clear();
  for (auto& j : jobs)
    if (j.cancelled) j.cancelled();
  set_state(stopping_ ? State::stopped : State::disconnected, why);
}

awaitable<void> ModemLink::sleep(std::chrono::milliseconds d) {
  sleep_.expires_after(d);
  co_await sleep_.async_wait(kTuple);
}

awaitable<void> ModemLink::run() {
  auto backoff = settings_.reconnect_min;
  while (!stopping_) {
    std::string why;
    if (!open(why)) {
      logger_.debug("{}", why);
      set_state(State::disconnected, why);
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, settings_.reconnect_max);
      continue;
    }
    set_state(State::starting, "");
    asio::co_spawn(io_, read_loop(generation_), asio::detached);
    if (!co_await initialise(why)) {
      if (broken_ && !broken_reason_.empty()) why += " (" + broken_reason_ + ")";
      logger_.warn("modem on {} not ready: {}", settings_.device, why);
      close(why);
      if (stopping_) break;
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, settings_.reconnect_max);
      continue;
    }
    backoff = settings_.reconnect_min;
    set_state(State::running, "");
    logger_.info("modem on {} ready", settings_.device);
    if (handlers_.ready) handlers_.ready();
    co_await execute_jobs();
    const std::string reason = broken_reason_.empty() ? std::string("the line dropped") : broken_reason_;
    if (!stopping_) logger_.warn("modem on {} disconnected: {}", settings_.device, reason);
    close(reason);
  }
  set_state(State::stopped, "");
}

awaitable<void> ModemLink::read_loop(std::uint64_t generation) {
  std::array<char, 1024> buffer{};
  for (;;) {
    auto [ec, n] = co_await port_.async_read_some(asio::buffer(buffer), kTuple);
    if (generation != generation_) co_return;
    if (ec || n == 0) {
      broken(ec ? "read: " + ec.message() : std::string("read: end of file"));
      co_return;
    }
    rx_.append(buffer.data(), n);
    if (rx_.size() > 64 * 1024) rx_.erase(0, rx_.size() - 4096);  // a babbling line cannot grow it
    consume();
  }
}

void ModemLink::consume() {
  for (;;) {
    const auto end = rx_.find_first_of("\r\n");
    if (end == std::string::npos) break;
    std::string text = rx_.substr(0, end);
    rx_.erase(0, end + 1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
    if (!text.empty()) line(text);
  }
  // The "> " prompt of AT+CMGS comes without a line end.
  if (pending_ != nullptr && pending_->want_prompt && !pending_->prompt && rx_.starts_with(">")) {
    rx_.clear();
    pending_->prompt = true;
    signal_.cancel();
  }
}

void ModemLink::line(const std::string& text) {
  ++lines_seen_;
  if (report_pdu_next_) {
    report_pdu_next_ = false;
    if (handlers_.report) handlers_.report(text, report_length_);
    return;
  }
  if (skip_pdu_next_) {
    skip_pdu_next_ = false;
    return;
  }
  if (pending_ != nullptr && pending_->pdu_line_next) {
    pending_->pdu_line_next = false;
    pending_->lines.push_back(text);
    return;
  }
  if (pending_ != nullptr && text == pending_->command) return;  // echo, before ATE0 takes effect
  if (text.starts_with("+CDS:")) {
    report_length_ = parse_pdu_urc_length(text).value_or(-1);
    report_pdu_next_ = true;
    return;
  }
  if (text.starts_with("+CMT:")) {
    // Routed past the SIM despite AT+CNMI=2,1: the message is not stored, and only the
    // network's retry after a missing acknowledgement can bring it back.
    logger_.warn("the modem delivered a message without storing it (+CMT); check AT+CNMI support");
    skip_pdu_next_ = true;
    return;
  }
  if (auto cmti = parse_cmti(text)) {
    if (handlers_.new_message) handlers_.new_message(cmti->index);
    return;
  }
  if (text == "RING" || text.starts_with("+CRING") || text.starts_with("+CLIP") || text.starts_with("^") ||
      text.starts_with("+CREG:") || text.starts_with("+CGREG:") || text.starts_with("+CEREG:") ||
      text.starts_with("+CDSI:") || text.starts_with("+CBM:") || text.starts_with("+CUSD:") ||
      text.starts_with("+QIND") || (text.starts_with("+CPIN: READY") && pending_ == nullptr)) {
    logger_.debug("modem says {}", text::mask_phones_in(text));
    return;
  }
  if (pending_ != nullptr) {
    if (is_final_result(text)) {
      pending_->final = text;
      if (pending_->want_prompt && !pending_->prompt) pending_->final_before_prompt = true;
      signal_.cancel();
      return;
    }
    pending_->lines.push_back(text);
    if (text.starts_with("+CMGR:") || text.starts_with("+CMGL:")) pending_->pdu_line_next = true;
    return;
  }
  logger_.debug("modem says, unasked: {}", text::mask_phones_in(text));
}

awaitable<bool> ModemLink::write(std::string data) {
  auto [ec, n] = co_await asio::async_write(port_, asio::buffer(data), kTuple);
  if (ec) {
    broken("write: " + ec.message());
    co_return false;
  }
  co_return true;
}

awaitable<bool> ModemLink::wait_for(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) {
  while (!done()) {
    if (broken_ || std::chrono::steady_clock::now() >= deadline) co_return false;
    signal_.expires_at(deadline);
    co_await signal_.async_wait(kTuple);
  }
  co_return true;
}

awaitable<AtResult> ModemLink::command(std::string command, std::optional<std::chrono::milliseconds> timeout) {
  AtResult result;
  if (broken_ || pending_ != nullptr) co_return result;
  if (needs_resync_ && !initialising_) {
    std::vector<std::string> late;
    if (!co_await resync(late)) co_return result;
  }
  Pending p;
  p.command = command;
  pending_ = &p;
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(settings_.command_timeout);
  const std::uint64_t generation = generation_;
  if (co_await write(command + "\r")) co_await wait_for([&] { return p.final.has_value(); }, deadline);
  if (generation == generation_) pending_ = nullptr;
  result.lines = std::move(p.lines);
  if (p.final) {
    timeouts_in_a_row_ = 0;
    result.final = *p.final;
    result.status = *p.final == "OK" ? AtResult::Status::ok : AtResult::Status::error;
  } else if (!broken_) {
    result.status = AtResult::Status::timeout;
    needs_resync_ = true;
    // A modem that stopped answering altogether is reset by opening the port again.
    if (++timeouts_in_a_row_ >= 3) broken("three commands in a row without an answer");
  }
  co_return result;
}

awaitable<AtResult> ModemLink::command_with_pdu(std::string command, std::string pdu,
                                                std::chrono::milliseconds timeout) {
  AtResult result;
  if (broken_ || pending_ != nullptr) co_return result;
  if (needs_resync_) {
    std::vector<std::string> late;
    if (!co_await resync(late)) co_return result;
  }
  Pending p;
  p.command = command;
  p.want_prompt = true;
  pending_ = &p;
  const std::uint64_t generation = generation_;
  const auto prompt_deadline = std::chrono::steady_clock::now() + settings_.command_timeout;
  bool written = co_await write(command + "\r");
  if (written) co_await wait_for([&] { return p.prompt || p.final.has_value(); }, prompt_deadline);
  if (written && p.prompt && !p.final) {
    if (co_await write(pdu + "\x1A"))
      co_await wait_for([&] { return p.final.has_value(); }, std::chrono::steady_clock::now() + timeout);
  } else if (written && !p.final && !broken_) {
    co_await write("\x1B");  // no prompt: leave the PDU input state, if the modem is in it
  }
  if (generation == generation_) pending_ = nullptr;
  result.lines = std::move(p.lines);
  if (p.final && p.final_before_prompt) {
    // A final result before the prompt is never a send: an OK there belongs to an earlier command.
    timeouts_in_a_row_ = 0;
    result.final = *p.final == "OK" ? std::string("OK before the \"> \" prompt") : *p.final;
    result.status = AtResult::Status::error;
    // The prompt may follow: ESC takes the modem out of the PDU input it would be waiting in.
    if (*p.final == "OK" || p.prompt) needs_resync_ = true;
  } else if (p.final) {
    timeouts_in_a_row_ = 0;
    result.final = *p.final;
    result.status = *p.final == "OK" ? AtResult::Status::ok : AtResult::Status::error;
  } else if (!broken_) {
    result.status = AtResult::Status::timeout;
    // The answer may still come: read it now, so that it is neither lost nor taken for the next
    // command's. A "+CMGS:" in it means the message went out after all.
    std::vector<std::string> late;
    const bool synced = co_await resync(late);
    if (synced && std::any_of(late.begin(), late.end(), [](const std::string& l) { return l.starts_with("+CMGS:"); })) {
      logger_.info("the late answer to {} came: the message was sent", command);
      result.status = AtResult::Status::ok;
      result.final = "OK";
      result.lines = std::move(late);
    } else if (synced) {
      timeouts_in_a_row_ = 0;
    }
  }
  co_return result;
}

awaitable<bool> ModemLink::resync(std::vector<std::string>& late) {
  needs_resync_ = false;
  if (broken_ || pending_ != nullptr) co_return false;
  // ESC leaves the PDU input state; the answer to an abandoned command comes before this AT's.
  if (!co_await write("\x1B")) co_return false;
  AtResult r = co_await command("AT");
  late = std::move(r.lines);
  if (r.status == AtResult::Status::timeout || r.status == AtResult::Status::io_error) {
    needs_resync_ = false;
    broken("no answer after a command timed out");
    co_return false;
  }
  // The AT's own result may be the next line still: swallow whatever comes until the line is quiet.
  Pending sink;
  pending_ = &sink;
  const std::uint64_t generation = generation_;
  const auto limit = std::chrono::steady_clock::now() + settings_.command_timeout;
  const auto quiet = std::min<std::chrono::milliseconds>(settings_.command_timeout, std::chrono::milliseconds(300));
  for (;;) {
    const auto seen = lines_seen_;
    co_await wait_for([] { return false; }, std::min(std::chrono::steady_clock::now() + quiet, limit));
    if (broken_ || lines_seen_ == seen || std::chrono::steady_clock::now() >= limit) break;
  }
  if (generation == generation_) pending_ = nullptr;
  late.insert(late.end(), sink.lines.begin(), sink.lines.end());
  if (rx_.starts_with(">")) rx_.clear();  // a prompt nobody waits for
  co_return !broken_;
}

awaitable<bool> ModemLink::initialise(std::string& why) {
  // The first AT may meet a modem still booting, or the rest of an old command: try a few times.
  initialising_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{initialising_};
  AtResult r;
  for (int i = 0; i < 3 && !r.ok() && !broken_; ++i) r = co_await command("AT", std::chrono::milliseconds(1500));
  if (!r.ok()) {
    why = "no answer to AT: " + r.describe();
    co_return false;
  }
  timeouts_in_a_row_ = 0;
  if (!(r = co_await command("ATE0")).ok()) {
    why = "ATE0: " + r.describe();
    co_return false;
  }
  co_await command("AT+CMEE=1");  // numeric errors; an old modem without it still works
  r = co_await command("AT+CPIN?");
  if (!r.ok()) {
    why = "AT+CPIN?: " + r.describe() + " (SIM 卡未插好？ / is the SIM inserted?)";
    co_return false;
  }
  if (any_line_starts(r, "+CPIN: SIM PIN")) {
    if (settings_.pin.empty()) {
      why = "the SIM asks for a PIN: set pin = \"${MODEM_PIN}\" (SIM 卡需要 PIN 码)";
      co_return false;
    }
    if (pin_refused_) {
      why =
          "the SIM refused the configured PIN before; it is not tried again, so that the SIM does not lock "
          "(PIN 码错误，请改正后重启)";
      co_return false;
    }
    r = co_await command("AT+CPIN=\"" + settings_.pin + "\"", std::chrono::milliseconds(10000));
    if (!r.ok()) {
      pin_refused_ = r.status == AtResult::Status::error;
      why = "the SIM refused the PIN: " + r.describe() + " (PIN 码错误)";
      co_return false;
    }
  } else if (!any_line_starts(r, "+CPIN: READY")) {
    why = "the SIM is locked: " + (r.lines.empty() ? r.final : r.lines.front()) + " (SIM 卡被锁，需要 PUK 码)";
    co_return false;
  }
  if (!(r = co_await command("AT+CMGF=0")).ok()) {
    why = "AT+CMGF=0 (PDU mode): " + r.describe();
    co_return false;
  }
  const std::string& mem = settings_.storage;
  if (!(r = co_await command("AT+CPMS=\"" + mem + "\",\"" + mem + "\",\"" + mem + "\"")).ok()) {
    why = "AT+CPMS (message storage " + mem + "): " + r.describe() + " (SIM 卡未就绪？)";
    co_return false;
  }
  // Phase 0: a +CDS needs no AT+CNMA, which this adapter does not send.
  if (!(r = co_await command("AT+CSMS=0")).ok()) logger_.warn("AT+CSMS=0: {}", r.describe());
  if (!(r = co_await command("AT+CNMI=2,1,0,1,0")).ok()) {
    logger_.warn("the modem refuses status reports by +CDS ({}); messages will stay 'sent'", r.describe());
    if (!(r = co_await command("AT+CNMI=2,1,0,0,0")).ok()) {
      why = "AT+CNMI (new message indications): " + r.describe();
      co_return false;
    }
  }
  needs_resync_ = false;
  co_return !broken_;
}

awaitable<void> ModemLink::execute_jobs() {
  auto next_tick = std::chrono::steady_clock::now() + settings_.idle_tick;
  while (!broken_ && !stopping_) {
    if (jobs_.empty()) {
      jobs_signal_.expires_at(next_tick);
      co_await jobs_signal_.async_wait(kTuple);
      if (std::chrono::steady_clock::now() >= next_tick) {
        next_tick = std::chrono::steady_clock::now() + settings_.idle_tick;
        if (!broken_ && handlers_.idle) handlers_.idle();
      }
      continue;
    }
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    co_await job.run();
  }
}

}  // namespace villagebot::adapters::modem
