#pragma once
// The serial line to a GSM/4G modem: one io_context thread owns the port. It opens the device,
// initialises the modem (echo off, numeric errors, PIN, PDU mode, SIM storage, new-message and
// status-report indications), runs one AT command at a time with a deadline, and hands the
// unsolicited result codes (+CMTI, +CDS) to its owner even while a command waits. A read or
// write error, end of file or a device that vanished closes the port; it is opened again with
// back-off, and initialised again, until stop().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/serial_port.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

namespace villagebot::adapters::modem {

namespace asio = boost::asio;

struct LinkSettings {
  std::string device;  // /dev/ttyUSB2
  unsigned baud = 115200;
  std::string pin;  // "" when the SIM has no PIN
  std::string storage = "SM";
  std::chrono::milliseconds command_timeout{5000};
  std::chrono::milliseconds reconnect_min{1000};
  std::chrono::milliseconds reconnect_max{60000};
  std::chrono::milliseconds idle_tick{30000};
};

struct AtResult {
  enum class Status { ok, error, timeout, io_error };
  Status status = Status::io_error;
  std::string final;               // OK, ERROR, +CMS ERROR: 500 ...
  std::vector<std::string> lines;  // information lines, PDU lines included, in order
  [[nodiscard]] bool ok() const { return status == Status::ok; }
  [[nodiscard]] std::string describe() const;
};

class ModemLink {
 public:
  struct Handlers {
    std::function<void()> ready;                              // initialised (again): pick up stored messages
    std::function<void(int index)> new_message;               // +CMTI
    std::function<void(std::string pdu, int length)> report;  // +CDS
    std::function<void()> idle;                               // every idle_tick while connected
  };
  // A unit of work that runs alone on the line; `cancelled` runs instead when the line drops first.
  struct Job {
    std::function<asio::awaitable<void>()> run;
    std::function<void()> cancelled;
  };

  ModemLink(LinkSettings settings, Handlers handlers, spdlog::logger& logger);
  ~ModemLink();
  ModemLink(const ModemLink&) = delete;
  ModemLink& operator=(const ModemLink&) = delete;

  void start();
  void stop();

  // From any thread. A job posted while the line is down is cancelled (on the io thread).
  void post(Job job);
  // Runs `fn` on the io thread.
  void dispatch(std::function<void()> fn);
  // On the io thread after `delay`; stop() cancels what has not fired yet.
  void after(std::chrono::milliseconds delay, std::function<void()> fn);
  [[nodiscard]] bool ready() const;
  // Blocks (a sender thread) until the modem is ready, stopped, or `limit` passed.
  bool wait_ready(std::chrono::milliseconds limit) const;
  [[nodiscard]] nlohmann::json health() const;

  // Inside a job: one command, its information lines and its final result.
  asio::awaitable<AtResult> command(std::string command, std::optional<std::chrono::milliseconds> timeout = {});
  // AT+CMGS=<n>: waits for the "> " prompt, writes the PDU and Ctrl-Z.
  asio::awaitable<AtResult> command_with_pdu(std::string command, std::string pdu, std::chrono::milliseconds timeout);

 private:
  struct Pending {
    std::string command;
    bool want_prompt = false;
    bool prompt = false;
    bool final_before_prompt = false;
    bool pdu_line_next = false;
    std::optional<std::string> final;
    std::vector<std::string> lines;
  };
  enum class State { starting, running, disconnected, stopped };

  asio::awaitable<void> run();
  asio::awaitable<void> read_loop(std::uint64_t generation);
  asio::awaitable<bool> initialise(std::string& why);
  asio::awaitable<void> execute_jobs();
  asio::awaitable<bool> write(std::string data);
  asio::awaitable<bool> resync(std::vector<std::string>& late);
  asio::awaitable<bool> wait_for(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline);
  asio::awaitable<void> sleep(std::chrono::milliseconds d);
  bool open(std::string& why);
  void close(const std::string& why);
  void broken(const std::string& why);
  void consume();
  void line(const std::string& text);
  void set_state(State s, std::string error);

  LinkSettings settings_;
  Handlers handlers_;
  spdlog::logger& logger_;

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::serial_port port_{io_};
  asio::steady_timer signal_{io_};  // wakes the command waiting for its result
  asio::steady_timer jobs_signal_{io_};
  asio::steady_timer sleep_{io_};
  std::thread thread_;
  std::atomic<bool> stopped_{false};

  // io thread only
  std::deque<Job> jobs_;
  std::set<std::shared_ptr<asio::steady_timer>> timers_;
  std::string rx_;
  Pending* pending_ = nullptr;
  bool broken_ = true;
  bool stopping_ = false;
  bool pin_refused_ = false;
  bool initialising_ = false;
  // A command went unanswered: its answer may still come and must not be read as the next one's.
  bool needs_resync_ = false;
  std::uint64_t lines_seen_ = 0;
  bool report_pdu_next_ = false;
  bool skip_pdu_next_ = false;
  int report_length_ = -1;
  int timeouts_in_a_row_ = 0;
  std::uint64_t generation_ = 0;
  std::string broken_reason_;

  mutable std::mutex state_mutex_;
  mutable std::condition_variable state_cv_;
  State state_ = State::starting;
  std::string error_;
  std::int64_t connected_since_ms_ = 0;
  std::int64_t reconnects_ = 0;
};

}  // namespace villagebot::adapters::modem
