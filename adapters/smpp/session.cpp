#include "session.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <spdlog/sinks/null_sink.h>
#include <boost/asio.hpp>

namespace villagebot::smpp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto use = asio::as_tuple(asio::use_awaitable);

struct Pending {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::uint32_t sequence = 0;
  SubmitOutcome outcome;
  void finish(SubmitOutcome o) {
    {
      std::lock_guard lock(m);
      if (done) return;
      done = true;
      outcome = std::move(o);
    }
    cv.notify_all();
  }
};

// One TCP connection; touched only on the network thread.
struct Conn {
  Conn(const asio::any_io_executor& ex, std::uint64_t n) : socket(ex), keepalive(ex), watchdog(ex), id(n) {}
  tcp::socket socket;
  asio::steady_timer keepalive;
  asio::steady_timer watchdog;  // closes the socket when a connect, a bind or an unbind takes too long
  std::deque<std::string> out;
  bool writing = false;
  bool closed = false;
  bool close_after_flush = false;
  std::uint64_t id;
  std::uint32_t enquire_sequence = 0;  // an enquire_link not yet answered
  std::string reason;                  // why it ended
};

std::uint32_t command_id_of(const std::string& bytes) {
  if (bytes.size() < kHeaderLength) return 0;
  std::uint32_t v = 0;
  for (std::size_t i = 4; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes[i]);
  return v;
}

std::uint32_t sequence_of(const std::string& bytes) {
  if (bytes.size() < kHeaderLength) return 0;
  std::uint32_t v = 0;
  for (std::size_t i = 12; i < 16; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes[i]);
  return v;
}

SubmitOutcome outcome(SubmitOutcome::Kind kind, std::string error, std::uint32_t st = 0) {
  SubmitOutcome o;
  o.kind = kind;
  o.status = st;
  o.error = std::move(error);
  return o;
}

}  // namespace

class Session::Impl : public std::enable_shared_from_this<Session::Impl> {
 public:
  Impl(SessionSettings settings, DeliverHandler on_deliver, std::shared_ptr<spdlog::logger> logger)
      : s_(std::move(settings)), on_deliver_(std::move(on_deliver)), log_(std::move(logger)) {
    if (!log_) log_ = std::make_shared<spdlog::logger>("smpp", std::make_shared<spdlog::sinks::null_sink_mt>());
    s_.window = std::max(1, s_.window);
    window_now_ = s_.window;
  }
  ~Impl() { stop(); }

  void start() {
    {
      std::lock_guard lock(mutex_);
      if (started_) return;
      started_ = true;
      state_ = "connecting";
    }
    work_.emplace(asio::make_work_guard(io_));
    asio::co_spawn(io_, run(), asio::detached);
    thread_ = std::thread([this] {
      io_.run();
      // Submits posted while the loop ended learn that the connection is gone.
      io_.restart();
      io_.poll();
    });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (!started_ || stopping_) {
        stopping_ = true;
        if (!thread_.joinable()) return;
      }
      stopping_ = true;
    }
    cv_.notify_all();
    asio::post(io_, [this] {
      backoff_.cancel();
      if (current_ && !current_->closed) {
        auto c = current_;
        if (conn_ == c && !c->close_after_flush) {
          // A polite end: unbind, and close when unbind_resp comes or unbind_timeout passes.
          write(c, encode_header_only(cmd::unbind, status::ok, next_sequence()));
          {
            std::lock_guard lock(mutex_);
            ++unbinds_sent_;
          }
          c->watchdog.expires_after(s_.unbind_timeout);
          c->watchdog.async_wait([this, c](error_code ec) {
            if (!ec) close(c, "no unbind_resp in time");
          });
        } else {
          close(c, "stopping");
        }
      }
    });
    {
      std::unique_lock lock(mutex_);
      const auto limit = s_.unbind_timeout + s_.connect_timeout + std::chrono::seconds(2);
      if (!cv_.wait_for(lock, limit, [this] { return finished_; })) io_.stop();
    }
    if (thread_.joinable()) thread_.join();
  }

  SubmitOutcome submit(Pdu pdu) {
    pdu.command_id = cmd::submit_sm;
    std::string error;
    if (!encode(pdu, &error)) return outcome(SubmitOutcome::Kind::invalid, error);
    int throttles = 0;
    for (;;) {
      SubmitOutcome o = submit_once(pdu);
      if (o.kind == SubmitOutcome::Kind::refused &&
          (o.status == status::throttled || o.status == status::message_queue_full)) {
        int window = 0;
        {
          std::lock_guard lock(mutex_);
          ++throttled_;
          window_now_ = std::max(1, window_now_ / 2);
          window = window_now_;
          ok_streak_ = 0;
          paused_until_ = std::max(paused_until_, steady::now() + s_.throttle_delay);
        }
        log_->warn("SMSC throttling ({}): pausing {} ms, window {}", status_name(o.status), s_.throttle_delay.count(),
                   window);
        if (++throttles > s_.throttle_retries) {
          o.kind = SubmitOutcome::Kind::throttled;
          o.error = "the SMSC keeps throttling: " + status_name(o.status);
          return o;
        }
        continue;
      }
      std::lock_guard lock(mutex_);
      if (o.kind == SubmitOutcome::Kind::ok) {
        ++accepted_;
        // Grow back after a full window's worth of answers without throttling.
        if (window_now_ < s_.window && ++ok_streak_ >= window_now_) {
          ++window_now_;
          ok_streak_ = 0;
        }
      } else if (o.kind == SubmitOutcome::Kind::refused) {
        ++refused_;
      }
      return o;
    }
  }

  nlohmann::json health() const {
    std::lock_guard lock(mutex_);
    nlohmann::json h{{"state", state_},
                     {"bound", bound_},
                     {"window", s_.window},
                     {"window_now", window_now_},
                     {"in_flight", in_flight_},
                     {"max_in_flight", max_in_flight_},
                     {"submitted", submitted_},
                     {"accepted", accepted_},
                     {"refused", refused_},
                     {"throttled", throttled_},
                     {"binds", binds_},
                     {"bind_failures", bind_failures_},
                     {"disconnects", disconnects_},
                     {"deliver_sm", delivers_},
                     {"enquire_links", enquire_links_},
                     {"unbinds_sent", unbinds_sent_},
                     {"malformed", malformed_}};
    if (!last_error_.empty()) h["last_error"] = last_error_;
    if (state_ == "backing_off") h["reconnect_in_ms"] = backoff_ms_;
    return h;
  }

  bool bound() const {
    std::lock_guard lock(mutex_);
    return bound_;
  }

 private:
  bool stopping() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  void set_state(std::string state, std::string error = {}) {
    std::lock_guard lock(mutex_);
    state_ = std::move(state);
    if (!error.empty()) last_error_ = std::move(error);
  }

  std::uint32_t next_sequence() {
    next_sequence_ = next_sequence_ >= 0x7FFFFFFFU ? 1 : next_sequence_ + 1;
    return next_sequence_;
  }

  asio::awaitable<void> run() {
    auto ex = co_await asio::this_coro::executor;
    int failures = 0;
    while (!stopping()) {
      auto c = std::make_shared<Conn>(ex, ++connections_);
      current_ = c;
      std::string why;
      set_state("connecting");
      if (co_await connect_and_bind(c, why)) {
        failures = 0;
        conn_ = c;
        {
          std::lock_guard lock(mutex_);
          bound_ = true;
          bound_connection_ = c->id;
          state_ = "bound";  // last_error_ stays: why the previous connection ended
          ++binds_;
        }
        cv_.notify_all();
        log_->info("bound to the SMSC {}:{} as {}", s_.host, s_.port, s_.system_id);
        asio::co_spawn(ex, keepalive(c), asio::detached);
        co_await read_loop(c);
        why = c->reason;
        disconnected(c);
      } else {
        close(c, why);
        ++failures;
      }
      if (stopping()) break;
      const auto base = s_.reconnect_min.count();
      auto delay = base;
      for (int i = 1; i < failures && delay < s_.reconnect_max.count(); ++i) delay *= 2;
      delay = std::min<std::int64_t>(delay, s_.reconnect_max.count());
      {
        std::lock_guard lock(mutex_);
        state_ = "backing_off";
        last_error_ = why;
        backoff_ms_ = delay;
      }
      log_->warn("SMPP session to {}:{}: {}; reconnecting in {} ms", s_.host, s_.port, why, delay);
      backoff_.expires_after(std::chrono::milliseconds(delay));
      co_await backoff_.async_wait(use);
    }
    current_.reset();
    {
      std::lock_guard lock(mutex_);
      state_ = "stopped";
      finished_ = true;
    }
    cv_.notify_all();
    work_.reset();
  }

  void arm(const std::shared_ptr<Conn>& c, std::chrono::milliseconds after, std::string why) {
    c->watchdog.expires_after(after);
    c->watchdog.async_wait([this, weak = std::weak_ptr<Conn>(c), why = std::move(why)](error_code ec) {
      if (ec) return;
      if (auto conn = weak.lock()) close(conn, why);
    });
  }

  asio::awaitable<bool> connect_and_bind(std::shared_ptr<Conn> c, std::string& why) {
    const std::string where = s_.host + ":" + std::to_string(s_.port);
    arm(c, s_.connect_timeout,
        "no connection to " + where + " within " + std::to_string(s_.connect_timeout.count()) + " ms");
    tcp::resolver resolver(c->socket.get_executor());
    auto [rec, endpoints] = co_await resolver.async_resolve(s_.host, std::to_string(s_.port), use);
    if (rec) {
      why = "cannot resolve " + s_.host + ": " + rec.message();
      co_return false;
    }
    auto [cec, endpoint] = co_await asio::async_connect(c->socket, endpoints, use);
    (void)endpoint;
    if (cec || c->closed) {
      why = c->closed ? c->reason : "cannot connect to " + where + ": " + cec.message();
      co_return false;
    }
    error_code ignored;
    c->socket.set_option(tcp::no_delay(true), ignored);
    set_state("binding");
    arm(c, s_.connect_timeout, "no bind_transceiver_resp within " + std::to_string(s_.connect_timeout.count()) + " ms");
    Pdu bind;
    bind.command_id = cmd::bind_transceiver;
    bind.sequence = next_sequence();
    bind.system_id = s_.system_id;
    bind.password = s_.password;
    bind.system_type = s_.system_type;
    bind.interface_version = 0x34;
    bind.addr_ton = s_.addr_ton;
    bind.addr_npi = s_.addr_npi;
    bind.address_range = s_.address_range;
    std::string error;
    auto bytes = encode(bind, &error);
    if (!bytes) {
      why = "bind_transceiver: " + error;
      co_return false;
    }
    auto [wec, written] = co_await asio::async_write(c->socket, asio::buffer(*bytes), use);
    (void)written;
    if (wec || c->closed) {
      why = c->closed ? c->reason : "cannot send bind_transceiver: " + wec.message();
      co_return false;
    }
    for (;;) {
      auto in = co_await read_pdu(c, why);
      if (!in) co_return false;
      auto d = decode(*in);
      if (!d.pdu) {
        why = "malformed PDU from the SMSC during the bind: " + d.error;
        co_return false;
      }
      const Pdu& p = *d.pdu;
      if (p.command_id == cmd::enquire_link) {
        write(c, encode_header_only(cmd::enquire_link_resp, status::ok, p.sequence));
        continue;
      }
      if ((p.command_id == cmd::bind_transceiver_resp || p.command_id == cmd::generic_nack) &&
          p.sequence == bind.sequence) {
        c->watchdog.cancel();
        if (p.command_status != status::ok || p.command_id == cmd::generic_nack) {
          why = "bind refused by the SMSC: " + status_name(p.command_status);
          std::lock_guard lock(mutex_);
          ++bind_failures_;
          co_return false;
        }
        co_return true;
      }
    }
  }

  asio::awaitable<std::optional<std::string>> read_pdu(std::shared_ptr<Conn> c, std::string& why) {
    std::string bytes(kHeaderLength, '\0');
    auto [ec, n] = co_await asio::async_read(c->socket, asio::buffer(bytes), use);
    (void)n;
    if (ec || c->closed) {
      why = !c->reason.empty()       ? c->reason
            : ec == asio::error::eof ? "the SMSC closed the connection"
                                     : "connection to the SMSC lost: " + ec.message();
      co_return std::nullopt;
    }
    std::string error;
    auto header = decode_header(bytes, &error);
    if (!header) {
      why = "malformed PDU from the SMSC: " + error;
      co_return std::nullopt;
    }
    bytes.resize(header->length);
    if (header->length > kHeaderLength) {
      auto [bec, bn] = co_await asio::async_read(
          c->socket, asio::buffer(bytes.data() + kHeaderLength, bytes.size() - kHeaderLength), use);
      (void)bn;
      if (bec || c->closed) {
        why = !c->reason.empty() ? c->reason : "connection to the SMSC lost inside a PDU: " + bec.message();
        co_return std::nullopt;
      }
    }
    co_return bytes;
  }

  asio::awaitable<void> read_loop(std::shared_ptr<Conn> c) {
    for (;;) {
      std::string why;
      auto in = co_await read_pdu(c, why);
      if (!in) {
        if (c->reason.empty()) c->reason = why;
        co_return;
      }
      if (!handle(c, *in)) co_return;
    }
  }

  // One PDU from a bound SMSC; false ends the connection.
  bool handle(const std::shared_ptr<Conn>& c, const std::string& bytes) {
    auto d = decode(bytes);
    if (!d.pdu) {
      // read_pdu took exactly command_length octets, so the stream is still in step: refuse this
      // PDU and keep the link. Dropping it would not help — the SMSC would send the same
      // deliver_sm first after every rebind, and inbound texts and receipts would stop for good.
      if (command_id_of(bytes) == cmd::deliver_sm) {
        write(c, encode_header_only(cmd::deliver_sm_resp, status::permanent_app_error, sequence_of(bytes)));
        log_->warn("SMSC sent a deliver_sm that cannot be read ({}); refused it with ESME_RX_P_APPN", d.error);
      } else {
        write(c, encode_header_only(cmd::generic_nack, d.nack_status, sequence_of(bytes)));
        log_->warn("SMSC sent {}; answered generic_nack", d.error);
      }
      {
        std::lock_guard lock(mutex_);
        ++malformed_;
        last_error_ = "malformed PDU from the SMSC: " + d.error;
      }
      return true;
    }
    Pdu& p = *d.pdu;
    switch (p.command_id) {
      case cmd::submit_sm_resp:
      case cmd::generic_nack: {
        auto it = pending_.find(p.sequence);
        if (it == pending_.end()) {
          if (p.command_id == cmd::generic_nack)
            log_->warn("SMSC sent generic_nack {} for sequence {}", status_name(p.command_status), p.sequence);
          return true;
        }
        auto pending = it->second;
        pending_.erase(it);
        if (p.command_id == cmd::submit_sm_resp && p.command_status == status::ok) {
          SubmitOutcome o;
          o.message_id = p.message_id;
          pending->finish(std::move(o));
        } else {
          const std::uint32_t st = p.command_status == status::ok ? status::system_error : p.command_status;
          pending->finish(
              outcome(SubmitOutcome::Kind::refused, "the SMSC refused the message: " + status_name(st), st));
        }
        return true;
      }
      case cmd::enquire_link:
        write(c, encode_header_only(cmd::enquire_link_resp, status::ok, p.sequence));
        return true;
      case cmd::enquire_link_resp:
        if (p.sequence == c->enquire_sequence) c->enquire_sequence = 0;
        return true;
      case cmd::deliver_sm: {
        {
          std::lock_guard lock(mutex_);
          ++delivers_;
        }
        const std::uint32_t sequence = p.sequence;
        auto once = std::make_shared<std::atomic<bool>>(false);
        Respond respond = [weak = weak_from_this(), wc = std::weak_ptr<Conn>(c), sequence, once](std::uint32_t st) {
          if (once->exchange(true)) return;
          auto self = weak.lock();
          if (!self) return;
          asio::post(self->io_, [raw = self.get(), wc, sequence, st] {
            // Answered on the connection it came on; if that one is gone, the SMSC delivers it again.
            if (auto conn = wc.lock()) raw->write(conn, encode_header_only(cmd::deliver_sm_resp, st, sequence));
          });
        };
        try {
          on_deliver_(std::move(p), c->id, respond);
        } catch (const std::exception& e) {
          log_->error("deliver_sm handler failed: {}", e.what());
          respond(status::system_error);
        }
        return true;
      }
      case cmd::unbind:
        write(c, encode_header_only(cmd::unbind_resp, status::ok, p.sequence));
        finish(c, "the SMSC unbound the session");
        return false;
      case cmd::unbind_resp:
        finish(c, "unbound");
        return false;
      case cmd::bind_transceiver:
      case cmd::bind_transmitter:
      case cmd::bind_receiver:
      case cmd::submit_sm:
        write(c, encode_header_only(cmd::generic_nack, status::invalid_command_id, p.sequence));
        return true;
      default:
        return true;  // other responses: nothing waits for them
    }
  }

  asio::awaitable<void> keepalive(std::shared_ptr<Conn> c) {
    for (;;) {
      c->keepalive.expires_after(s_.enquire_link);
      auto [ec] = co_await c->keepalive.async_wait(use);
      if (ec || c->closed || c->close_after_flush) co_return;
      c->enquire_sequence = next_sequence();
      write(c, encode_header_only(cmd::enquire_link, status::ok, c->enquire_sequence));
      {
        std::lock_guard lock(mutex_);
        ++enquire_links_;
      }
      c->keepalive.expires_after(s_.response_timeout);
      auto [ec2] = co_await c->keepalive.async_wait(use);
      if (ec2 || c->closed) co_return;
      if (c->enquire_sequence != 0) {
        close(c, "the SMSC did not answer enquire_link within " + std::to_string(s_.response_timeout.count()) + " ms");
        co_return;
      }
    }
  }

  void write(const std::shared_ptr<Conn>& c, std::string bytes) {
    if (c->closed || c->close_after_flush) return;
    c->out.push_back(std::move(bytes));
    if (!c->writing) start_write(c);
  }

  void start_write(const std::shared_ptr<Conn>& c) {
    c->writing = true;
    asio::async_write(c->socket, asio::buffer(c->out.front()), [this, c](error_code ec, std::size_t) {
      c->out.pop_front();
      if (ec || c->closed) {
        c->writing = false;
        c->out.clear();
        close(c, "cannot write to the SMSC: " + ec.message());
        return;
      }
      if (!c->out.empty()) return start_write(c);
      c->writing = false;
      if (c->close_after_flush) close(c, c->reason);
    });
  }

  // Ends the connection once what is queued has been written.
  void finish(const std::shared_ptr<Conn>& c, std::string reason) {
    if (c->reason.empty()) c->reason = std::move(reason);
    c->close_after_flush = true;
    if (!c->writing) close(c, c->reason);
  }

  void close(const std::shared_ptr<Conn>& c, const std::string& reason) {
    if (c->closed) return;
    c->closed = true;
    if (c->reason.empty()) c->reason = reason;
    error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    c->keepalive.cancel();
    c->watchdog.cancel();
  }

  void disconnected(const std::shared_ptr<Conn>& c) {
    if (!c->close_after_flush) close(c, c->reason);
    if (conn_ == c) conn_.reset();
    auto pending = std::move(pending_);
    pending_.clear();
    {
      std::lock_guard lock(mutex_);
      bound_ = false;
      ++disconnects_;
      last_error_ = c->reason;
    }
    cv_.notify_all();
    for (auto& entry : pending)
      entry.second->finish(outcome(SubmitOutcome::Kind::disconnected,
                                   "the connection to the SMSC ended before its answer (" + c->reason + ")"));
  }

  SubmitOutcome submit_once(const Pdu& pdu) {
    std::unique_lock lock(mutex_);
    const auto deadline = steady::now() + s_.bind_wait;
    for (;;) {
      if (stopping_) return outcome(SubmitOutcome::Kind::stopped, "the SMPP session is stopping");
      const auto now = steady::now();
      if (bound_ && in_flight_ < window_now_ && now >= paused_until_) break;
      if (now >= deadline) {
        if (!bound_)
          return outcome(SubmitOutcome::Kind::not_bound,
                         "not bound to the SMSC (" + state_ + (last_error_.empty() ? "" : ": " + last_error_) + ")");
        return outcome(SubmitOutcome::Kind::timeout, "the SMSC window stayed full");
      }
      auto until = deadline;
      if (bound_ && now < paused_until_) until = std::min(until, paused_until_);
      cv_.wait_until(lock, until);
    }
    ++in_flight_;
    ++submitted_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    const std::uint64_t connection = bound_connection_;
    lock.unlock();

    auto p = std::make_shared<Pending>();
    asio::post(io_, [this, p, pdu = Pdu(pdu), connection]() mutable {
      if (!conn_ || conn_->id != connection || conn_->closed || conn_->close_after_flush)
        return p->finish(
            outcome(SubmitOutcome::Kind::disconnected, "the connection ended before the message was sent"));
      pdu.sequence = next_sequence();
      p->sequence = pdu.sequence;
      pending_[pdu.sequence] = p;
      write(conn_, *encode(pdu));
    });
    bool answered = false;
    {
      std::unique_lock plock(p->m);
      answered = p->cv.wait_for(plock, s_.response_timeout, [&] { return p->done; });
    }
    if (!answered) {
      p->finish(outcome(SubmitOutcome::Kind::timeout,
                        "no submit_sm_resp within " + std::to_string(s_.response_timeout.count()) + " ms"));
      asio::post(io_, [this, p] {
        auto it = pending_.find(p->sequence);
        if (it != pending_.end() && it->second == p) pending_.erase(it);
      });
    }
    {
      std::lock_guard relock(mutex_);
      --in_flight_;
    }
    cv_.notify_all();
    std::lock_guard plock(p->m);
    return p->outcome;
  }

  SessionSettings s_;
  DeliverHandler on_deliver_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;

  // Network thread only.
  std::shared_ptr<Conn> current_;  // being set up or bound
  std::shared_ptr<Conn> conn_;     // bound
  std::unordered_map<std::uint32_t, std::shared_ptr<Pending>> pending_;
  std::uint32_t next_sequence_ = 0;
  std::uint64_t connections_ = 0;
  asio::steady_timer backoff_{io_};

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string state_ = "stopped";
  std::string last_error_;
  std::int64_t malformed_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool bound_ = false;
  std::uint64_t bound_connection_ = 0;
  int window_now_ = 1;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  int ok_streak_ = 0;
  steady::time_point paused_until_{};
  std::int64_t backoff_ms_ = 0;
  std::int64_t submitted_ = 0, accepted_ = 0, refused_ = 0, throttled_ = 0, binds_ = 0, bind_failures_ = 0,
               disconnects_ = 0, delivers_ = 0, enquire_links_ = 0, unbinds_sent_ = 0;
};

Session::Session(SessionSettings settings, DeliverHandler on_deliver, std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(std::move(settings), std::move(on_deliver), std::move(logger))) {}

Session::~Session() {
  impl_->stop();
}

void Session::start() {
  impl_->start();
}
void Session::stop() {
  impl_->stop();
}
SubmitOutcome Session::submit(Pdu pdu) {
  return impl_->submit(std::move(pdu));
}
nlohmann::json Session::health() const {
  return impl_->health();
}
bool Session::bound() const {
  return impl_->bound();
}

}  // namespace villagebot::smpp
