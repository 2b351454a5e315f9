#include "fake_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cctype>
#include <stdexcept>

namespace villagebot::testkit {

struct FakeHttpServer::Tls {
  SSL_CTX* ctx = nullptr;
};

FakeHttpServer::FakeHttpServer(int status, std::string body)
    : FakeHttpServer(FakeHttpOptions{.status = status, .body = std::move(body)}) {}

FakeHttpServer::FakeHttpServer(FakeHttpOptions options) : options_(std::move(options)), status_(options_.status) {
  if (!options_.cert_file.empty()) {
    tls_ = new Tls;
    tls_->ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(tls_->ctx, options_.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(tls_->ctx, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("fake server: cannot load " + options_.cert_file);
  }
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
  for (auto& t : handlers_) t.join();
  close(listen_fd_);
  if (tls_ != nullptr) {
    SSL_CTX_free(tls_->ctx);
    delete tls_;
  }
}

std::string FakeHttpServer::url(const std::string& path) const {
  return std::string(tls_ != nullptr ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
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
    ++connections_;
    if (options_.keep_alive) {
      handlers_.emplace_back([this, fd] { handle(fd); });
    } else {
      handle(fd);
    }
  }
}

void FakeHttpServer::handle(int fd) {
  SSL* ssl = nullptr;
  if (tls_ != nullptr) {
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl = SSL_new(tls_->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ++handshake_failures_;
      SSL_free(ssl);
      close(fd);
      return;
    }
  }
  // Reads what is there (waiting up to 5 ms at a time, 10 s in all); 0 at the end or on error.
  auto receive = [&](char* buf, std::size_t size) -> ssize_t {
    for (int rounds = 0; rounds < 2000 && !stopping_; ++rounds) {
      if (ssl != nullptr && SSL_pending(ssl) > 0) return SSL_read(ssl, buf, static_cast<int>(size));
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, 5) <= 0) continue;
      if (ssl != nullptr) {
        const int n = SSL_read(ssl, buf, static_cast<int>(size));
        if (n <= 0 && SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) continue;
        return n;
      }
      return read(fd, buf, size);
    }
    return 0;
  };
  auto send_all = [&](const std::string& data) {
    if (ssl != nullptr) return SSL_write(ssl, data.data(), static_cast<int>(data.size())) > 0;
    return write(fd, data.data(), data.size()) >= 0;
  };
  std::string data;
  char buf[16384];
  bool open = true;
  while (open && !stopping_) {
    ReceivedRequest req;
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    bool complete = false;
    while (!complete) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          const std::size_t line_end = data.find("\r\n");
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
            std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
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
        data.erase(0, header_end + 4 + content_length);
        complete = true;
        break;
      }
      const ssize_t n = receive(buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    if (!complete) break;
    FakeResponse answer;
    if (options_.handler) {
      answer = options_.handler(req);
    } else {
      answer.status = status_.load();
      answer.body = options_.body;
    }
    std::string response = "HTTP/1.1 " + std::to_string(answer.status) + " X\r\nContent-Type: " + answer.content_type +
                           "\r\nContent-Length: " + std::to_string(answer.body.size()) + "\r\n";
    for (const auto& [k, v] : answer.headers) response += k + ": " + v + "\r\n";
    response += options_.keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
    response += answer.body;
    open = send_all(response) && options_.keep_alive;
    {
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(req));
    }
    arrived_.notify_all();
  }
  if (ssl != nullptr) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  close(fd);
}

}  // namespace villagebot::testkit
