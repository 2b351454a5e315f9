#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

namespace villagebot::testkit {

namespace {

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

pid_t spawn(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    // Without this the child would hold the write end of its own stdin pipe
    // and never see end of input.
    closefrom(3);
    execvp(argv[0], argv.data());  // a bare name (sqlite3) is looked up in PATH
    _exit(127);
  }
  return pid;
}

RunResult decode(int status) {
  RunResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace

RunResult run(const std::vector<std::string>& args, const std::string& input, std::chrono::milliseconds timeout) {
  int in[2];
  int out[2];
  int err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = spawn(args, in[0], out[1], err[1]);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Small inputs fit the pipe buffer; write then close so the child sees EOF.
  if (!input.empty() && write(in[1], input.data(), input.size()) < 0) throw std::runtime_error("write failed");
  close(in[1]);
  set_nonblocking(out[0]);
  set_nonblocking(err[0]);
  RunResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    poll(fds, 2, 100);
    char buf[4096];
    if (out_open) {
      const ssize_t n = read(out[0], buf, sizeof buf);
      if (n > 0) result.out.append(buf, static_cast<std::size_t>(n));
      if (n == 0) out_open = false;
    }
    if (err_open) {
      const ssize_t n = read(err[0], buf, sizeof buf);
      if (n > 0) result.err.append(buf, static_cast<std::size_t>(n));
      if (n == 0) err_open = false;
    }
  }
  if (out_open || err_open) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out[0]);
  close(err[0]);
  auto code = decode(status);
  result.exit_code = code.exit_code;
  result.signal = code.signal;
  return result;
}

Child::Child(const std::vector<std::string>& args) {
  int out[2];
  int err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe failed");
  const int devnull = open("/dev/null", O_RDONLY);
  pid_ = spawn(args, devnull, out[1], err[1]);
  close(devnull);
  close(out[1]);
  close(err[1]);
  out_ = out[0];
  err_ = err[0];
  set_nonblocking(out_);
  set_nonblocking(err_);
}

Child::~Child() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (out_ >= 0) close(out_);
  if (err_ >= 0) close(err_);
}

void Child::drain(int fd, std::string& into, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  poll(&p, 1, static_cast<int>(timeout.count()));
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    into.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Child::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    drain(out_, out_buf_, std::chrono::milliseconds(50));
    drain(err_, err_buf_, std::chrono::milliseconds(0));
    std::size_t start = 0;
    for (std::size_t nl; (nl = out_buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = out_buf_.substr(start, nl - start);
      if (line.find(needle) != std::string::npos) return line;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      result_ = decode(status);
      return {};
    }
  }
  return {};
}

void Child::signal(int sig) {
  if (!exited_) kill(pid_, sig);
}

RunResult Child::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_ && std::chrono::steady_clock::now() < deadline) {
    drain(out_, out_buf_, std::chrono::milliseconds(20));
    drain(err_, err_buf_, std::chrono::milliseconds(0));
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      result_ = decode(status);
    }
  }
  drain(out_, out_buf_, std::chrono::milliseconds(0));
  drain(err_, err_buf_, std::chrono::milliseconds(0));
  RunResult r = result_;
  if (!exited_) r.exit_code = -2;  // still running: a timeout
  r.out = out_buf_;
  r.err = err_buf_;
  return r;
}

int port_from_line(const std::string& line) {
  const auto colon = line.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::atoi(line.c_str() + colon + 1);
}

}  // namespace villagebot::testkit
