#include "tls.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace villagebot::testkit {

namespace {

struct Deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  void operator()(X509* x) const { X509_free(x); }
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Deleter> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr, "extension");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "add extension");
}

Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, long serial) {
  Cert cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "cannot write a PEM file");
  const bool ok = cert != nullptr ? PEM_write_X509(f, cert) == 1
                                  : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  check(ok, "PEM write");
}

bool is_ip(const std::string& s) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

}  // namespace

TestPki make_test_pki(const std::filesystem::path& dir, const std::vector<std::string>& names,
                      const std::string& ca_name) {
  std::filesystem::create_directories(dir);
  Key ca_key(EVP_EC_gen("P-256"));
  Key server_key(EVP_EC_gen("P-256"));
  check(ca_key && server_key, "key generation");
  Cert ca = make_cert(ca_key.get(), ca_name, nullptr, 1);
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "sign CA");

  Cert leaf = make_cert(server_key.get(), names.empty() ? "server" : names.front(), ca.get(), 2);
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(is_ip(n) ? "IP:" : "DNS:") + n;
  add_ext(leaf.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(leaf.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(leaf.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  if (!san.empty()) add_ext(leaf.get(), ca.get(), NID_subject_alt_name, san);
  check(X509_sign(leaf.get(), ca_key.get(), EVP_sha256()) > 0, "sign server certificate");

  TestPki pki{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
  write_pem(pki.ca_cert, ca.get(), nullptr);
  write_pem(pki.server_cert, leaf.get(), nullptr);
  write_pem(pki.server_key, nullptr, server_key.get());
  return pki;
}

// ---------------------------------------------------------------------------------------------

ConnectProxy::ConnectProxy() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 64) != 0)
    throw std::runtime_error("proxy: cannot listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

ConnectProxy::~ConnectProxy() {
  stopping_ = true;
  thread_.join();
  for (auto& t : pumps_) t.join();
  close(listen_fd_);
}

std::vector<std::string> ConnectProxy::tunnels() {
  std::lock_guard lock(mutex_);
  return tunnels_;
}

std::vector<std::string> ConnectProxy::authorizations() {
  std::lock_guard lock(mutex_);
  return authorizations_;
}

void ConnectProxy::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    pumps_.emplace_back([this, fd] { tunnel(fd); });
  }
}

void ConnectProxy::tunnel(int client) {
  std::string head;
  char buf[16384];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192 && !stopping_) {
    pollfd c{client, POLLIN, 0};
    if (poll(&c, 1, 50) <= 0) continue;
    const ssize_t n = read(client, buf, sizeof buf);
    if (n <= 0) break;
    head.append(buf, static_cast<std::size_t>(n));
  }
  const auto end = head.find("\r\n\r\n");
  const auto line_end = head.find("\r\n");
  const std::string first = head.substr(0, line_end);
  std::string target, authorization;
  if (first.starts_with("CONNECT ")) target = first.substr(8, first.find(' ', 8) - 8);
  for (std::size_t pos = line_end + 2; end != std::string::npos && pos < end;) {
    const auto e = head.find("\r\n", pos);
    std::string line = head.substr(pos, e - pos);
    std::string lower = line;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.starts_with("proxy-authorization:")) authorization = line.substr(line.find(':') + 2);
    pos = e + 2;
  }
  const auto colon = target.rfind(':');
  int upstream = -1;
  if (end != std::string::npos && colon != std::string::npos) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(target.substr(0, colon).c_str(), target.substr(colon + 1).c_str(), &hints, &res) == 0) {
      upstream = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(upstream, res->ai_addr, res->ai_addrlen) != 0) {
        close(upstream);
        upstream = -1;
      }
      freeaddrinfo(res);
    }
  }
  {
    std::lock_guard lock(mutex_);
    tunnels_.push_back(target);
    authorizations_.push_back(authorization);
  }
  const std::string answer = upstream >= 0 ? "HTTP/1.1 200 Connection established\r\n\r\n"
                                           : "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
  if (write(client, answer.data(), answer.size()) < 0 || upstream < 0) {
    close(client);
    if (upstream >= 0) close(upstream);
    return;
  }
  // Bytes that came after the CONNECT header belong to the tunnel.
  if (end + 4 < head.size() && write(upstream, head.data() + end + 4, head.size() - end - 4) < 0) {
    close(client);
    close(upstream);
    return;
  }
  while (!stopping_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (poll(fds, 2, 50) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0 || write(fds[1 - i].fd, buf, static_cast<std::size_t>(n)) < 0) closed = true;
    }
    if (closed) break;
  }
  close(client);
  close(upstream);
}

}  // namespace villagebot::testkit
