#include "fake_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace villagebot::testkit {

FakeHttpServer::FakeHttpServer(int status, std::string body) : status_(status), body_(std::move(body)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 64) != 0)
    throw std::runtime_error("fake server: cannot listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeHttpServer::~FakeHttpServer() {
  stopping_ = true;
  thread_.join();
  close(listen_fd_);
}

std::string FakeHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> FakeHttpServer::wait_for(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  return received_;
}

void FakeHttpServer::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::string data;
    char buf[8192];
    ReceivedRequest req;
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    for (int rounds = 0; rounds < 2000; ++rounds) {
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, 5) <= 0) {
        if (stopping_) break;
        continue;
      }
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::size_t line_end = data.find("\r\n");
          const std::string first = data.substr(0, line_end);
          const auto sp1 = first.find(' ');
          const auto sp2 = first.find(' ', sp1 + 1);
          req.method = first.substr(0, sp1);
          req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
          std::size_t pos = line_end + 2;
          while (pos < header_end) {
            const auto end = data.find("\r\n", pos);
            const std::string line = data.substr(pos, end - pos);
            const auto colon = line.find(':');
            std::string name = line.substr(0, colon);
            for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            req.headers[name] = value;
            pos = end + 2;
          }
          if (auto it = req.headers.find("content-length"); it != req.headers.end())
            content_length = static_cast<std::size_t>(std::stoul(it->second));
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) {
        req.body = data.substr(header_end + 4, content_length);
        break;
      }
    }
    const std::string response =
        "HTTP/1.1 " + std::to_string(status_.load()) + " X\r\nContent-Type: application/json\r\n" +
        "Content-Length: " + std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
    if (write(fd, response.data(), response.size()) < 0) {
      // the client went away; nothing to record beyond the request
    }
    close(fd);
    {
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(req));
    }
    arrived_.notify_all();
  }
}

}  // namespace villagebot::testkit
