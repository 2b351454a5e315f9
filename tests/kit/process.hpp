#pragma once
// Running the real villagebot binary from tests: spawn, read its output,
// signal it, collect its exit status.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace villagebot::testkit {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal (see signal)
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs to completion with `input` on standard input.
RunResult run(const std::vector<std::string>& args, const std::string& input = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

class Child {
 public:
  explicit Child(const std::vector<std::string>& args);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads standard output until a line contains `needle`; returns that line ("" on timeout or exit).
  std::string wait_for_line(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void signal(int sig);
  // Waits for exit; returns the result with everything printed so far.
  RunResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  void drain(int fd, std::string& into, std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string out_buf_;
  std::string err_buf_;
  bool exited_ = false;
  RunResult result_;
};

// The port a `villagebot serve` printed in "listening on http://HOST:PORT".
int port_from_line(const std::string& line);

}  // namespace villagebot::testkit
