#include "smsc.hpp"

#include <algorithm>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace villagebot::smsc {

namespace {

using steady = std::chrono::steady_clock;
constexpr std::uint32_t kDropped = 0xFFFFFFFF;

std::uint32_t get32(const std::string& b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(b[at + 3]));
}

bool read_exact(int fd, char* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// A cursor over a body; any overrun sets `bad`.
struct Cursor {
  const std::string& b;
  std::size_t pos = 0;
  bool bad = false;
  std::uint8_t u8() {
    if (pos >= b.size()) {
      bad = true;
      return 0;
    }
    return static_cast<std::uint8_t>(b[pos++]);
  }
  std::string cstr(std::size_t max) {
    const auto end = b.find('\0', pos);
    if (end == std::string::npos || end - pos + 1 > max) {
      bad = true;
      return {};
    }
    std::string s = b.substr(pos, end - pos);
    pos = end + 1;
    return s;
  }
  std::string bytes(std::size_t n) {
    if (pos + n > b.size()) {
      bad = true;
      return {};
    }
    std::string s = b.substr(pos, n);
    pos += n;
    return s;
  }
};

}  // namespace

struct Smsc::Conn {
  int fd = -1;
  int id = 0;
  std::mutex write_mutex;
  std::atomic<bool> open{true};
  bool bound = false;   // under Smsc::mutex_
  int outstanding = 0;  // submit_sm received, not yet answered (under Smsc::mutex_)
  void send(const std::string& bytes) {
    std::lock_guard lock(write_mutex);
    if (!open) return;
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t r = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (r <= 0) return;
      sent += static_cast<std::size_t>(r);
    }
  }
  void close() {
    if (open.exchange(false)) ::shutdown(fd, SHUT_RDWR);
  }
};

std::string be16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
}

std::string be32(std::uint32_t v) {
  return be16(static_cast<std::uint16_t>(v >> 16)) + be16(static_cast<std::uint16_t>(v & 0xFFFF));
}

std::string pdu(std::uint32_t command_id, std::uint32_t status, std::uint32_t sequence, const std::string& body) {
  return be32(static_cast<std::uint32_t>(16 + body.size())) + be32(command_id) + be32(status) + be32(sequence) + body;
}

std::string utf16be(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    std::uint32_t cp = 0;
    std::size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      n = 3;
    } else {
      cp = c & 0x07;
      n = 4;
    }
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<std::uint8_t>(s[i + k]) & 0x3F);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += be16(static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
      out += be16(static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out += be16(static_cast<std::uint16_t>(cp));
    }
  }
  return out;
}

Smsc::Smsc(std::string system_id, std::string password)
    : system_id_(std::move(system_id)), password_(std::move(password)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 16);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
  responder_ = std::thread([this] { responder_loop(); });
}

Smsc::~Smsc() {
  stop_ = true;
  cv_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  if (responder_.joinable()) responder_.join();
  std::vector<std::thread> readers;
  {
    std::lock_guard lock(mutex_);
    for (auto& c : conns_) c->close();
    readers.swap(readers_);
  }
  for (auto& t : readers) t.join();
  std::lock_guard lock(mutex_);
  for (auto& c : conns_) ::close(c->fd);
  ::close(listen_fd_);
}

void Smsc::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_shared<Conn>();
    c->fd = fd;
    std::lock_guard lock(mutex_);
    c->id = static_cast<int>(conns_.size()) + 1;
    conns_.push_back(c);
    readers_.emplace_back([this, c] { read_loop(c); });
  }
}

void Smsc::read_loop(std::shared_ptr<Conn> c) {
  for (;;) {
    std::string header(16, '\0');
    if (!read_exact(c->fd, header.data(), 16)) break;
    const std::uint32_t length = get32(header, 0);
    if (length < 16 || length > 100000) break;  // an SMSC drops a client that lost its framing
    std::string body(length - 16, '\0');
    if (!body.empty() && !read_exact(c->fd, body.data(), body.size())) break;
    handle(c, get32(header, 4), get32(header, 8), get32(header, 12), body);
  }
  c->close();
  std::lock_guard lock(mutex_);
  c->bound = false;
  c->outstanding = 0;
  cv_.notify_all();
}

void Smsc::handle(const std::shared_ptr<Conn>& c, std::uint32_t id, std::uint32_t status, std::uint32_t seq,
                  const std::string& body) {
  (void)status;
  switch (id) {
    case 0x00000009:  // bind_transceiver
    case 0x00000002:
    case 0x00000001: {
      Cursor in{body};
      const std::string system_id = in.cstr(16);
      const std::string password = in.cstr(9);
      in.cstr(13);
      const std::uint8_t version = in.u8();
      bool ok = false;
      {
        std::lock_guard lock(mutex_);
        ok = !in.bad && system_id == system_id_ && password == password_ && version == 0x34;
      }
      // The answer leaves before the session counts as bound, so nothing the test sends on it
      // can overtake the bind_transceiver_resp.
      std::string resp_body = system_id_ + '\0';
      c->send(pdu(id | 0x80000000, ok ? 0 : 0x0E, seq, ok ? resp_body : std::string()));
      std::lock_guard lock(mutex_);
      if (ok) {
        ++binds_;
        c->bound = true;
      } else {
        ++refused_;
      }
      cv_.notify_all();
      return;
    }
    case 0x00000004: {  // submit_sm
      Cursor in{body};
      Submit s;
      s.connection = c->id;
      s.sequence = seq;
      s.service_type = in.cstr(6);
      s.source_ton = in.u8();
      s.source_npi = in.u8();
      s.source = in.cstr(21);
      s.dest_ton = in.u8();
      s.dest_npi = in.u8();
      s.destination = in.cstr(21);
      s.esm_class = in.u8();
      in.u8();  // protocol_id
      in.u8();  // priority_flag
      in.cstr(17);
      in.cstr(17);
      s.registered_delivery = in.u8();
      in.u8();  // replace_if_present_flag
      s.data_coding = in.u8();
      in.u8();  // sm_default_msg_id
      const std::uint8_t sm_length = in.u8();
      s.short_message = in.bytes(sm_length);
      while (!in.bad && in.pos + 4 <= body.size()) {
        const std::uint8_t t1 = in.u8();
        const std::uint8_t t2 = in.u8();
        const std::uint8_t l1 = in.u8();
        const std::uint8_t l2 = in.u8();
        const auto tag = static_cast<std::uint16_t>((t1 << 8) | t2);
        const auto len = static_cast<std::uint16_t>((l1 << 8) | l2);
        s.tlvs[tag] = in.bytes(len);
      }
      if (in.bad || in.pos != body.size()) {
        c->send(pdu(0x80000004, 0x02, seq));
        std::lock_guard lock(mutex_);
        ++nacks_;
        return;
      }
      std::unique_lock lock(mutex_);
      if (!c->bound) {
        lock.unlock();
        c->send(pdu(0x80000004, 0x04, seq));  // ESME_RINVBNDSTS
        return;
      }
      if (drop_countdown_ > 0 && --drop_countdown_ == 0) {
        s.answered_status = kDropped;
        submits_.push_back(std::move(s));
        cv_.notify_all();
        lock.unlock();
        c->close();
        return;
      }
      ++c->outstanding;
      max_outstanding_ = std::max(max_outstanding_, c->outstanding);
      std::string answer;
      if (throttle_left_ > 0) {
        --throttle_left_;
        s.answered_status = throttle_status_;
        answer = pdu(0x80000004, throttle_status_, seq);
      } else {
        char id_text[32];
        std::snprintf(id_text, sizeof id_text, "%llX", 0xA0000000ULL + ++next_message_id_);
        s.message_id = id_text;
        answer = pdu(0x80000004, 0, seq, s.message_id + '\0');
      }
      submits_.push_back(std::move(s));
      cv_.notify_all();
      if (delay_.count() > 0) {
        due_.push_back({steady::now() + delay_, c, std::move(answer)});
        return;
      }
      lock.unlock();
      answer_submit(c, std::move(answer));
      return;
    }
    case 0x00000015:  // enquire_link
    {
      bool answer = false;
      {
        std::lock_guard lock(mutex_);
        ++enquire_;
        answer = answer_enquire_;
      }
      if (answer) c->send(pdu(0x80000015, 0, seq));
      return;
    }
    case 0x00000006:  // unbind
    {
      std::lock_guard lock(mutex_);
      ++unbinds_;
      c->bound = false;
    }
      c->send(pdu(0x80000006, 0, seq));
      c->close();
      return;
    case 0x80000005: {  // deliver_sm_resp
      std::lock_guard lock(mutex_);
      deliver_resps_[seq] = status;
      cv_.notify_all();
      return;
    }
    case 0x80000000: {
      std::lock_guard lock(mutex_);
      ++nacks_;
      cv_.notify_all();
      return;
    }
    case 0x80000015:
    case 0x80000006:
      return;
    default:
      c->send(pdu(0x80000000, 0x03, seq));
      return;
  }
}

void Smsc::answer_submit(const std::shared_ptr<Conn>& c, std::string bytes) {
  // Counted as answered before the bytes leave, so the client can never see fewer outstanding
  // than this SMSC counts.
  {
    std::lock_guard lock(mutex_);
    if (c->outstanding > 0) --c->outstanding;
  }
  c->send(bytes);
}

void Smsc::responder_loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (due_.empty()) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
      continue;
    }
    const auto now = steady::now();
    std::vector<Due> ready;
    auto it = std::stable_partition(due_.begin(), due_.end(), [&](const Due& d) { return d.at > now; });
    std::move(it, due_.end(), std::back_inserter(ready));
    due_.erase(it, due_.end());
    if (ready.empty()) {
      const auto next = std::min_element(due_.begin(), due_.end(), [](auto& a, auto& b) { return a.at < b.at; })->at;
      cv_.wait_until(lock, std::min(next, now + std::chrono::milliseconds(20)));
      continue;
    }
    lock.unlock();
    for (auto& d : ready) answer_submit(d.conn, std::move(d.bytes));
    lock.lock();
  }
}

std::shared_ptr<Smsc::Conn> Smsc::newest_bound() {
  std::lock_guard lock(mutex_);
  for (auto it = conns_.rbegin(); it != conns_.rend(); ++it)
    if ((*it)->bound && (*it)->open) return *it;
  return nullptr;
}

std::uint32_t Smsc::deliver(const Deliver& d) {
  auto c = newest_bound();
  if (!c) return 0;
  std::uint32_t seq = 0;
  {
    std::lock_guard lock(mutex_);
    seq = 0x10000 + ++next_sequence_;
  }
  std::string body;
  body += std::string("") + '\0';  // service_type
  body += static_cast<char>(d.source_ton);
  body += static_cast<char>(d.source_npi);
  body += d.source + '\0';
  body += static_cast<char>(0);
  body += static_cast<char>(0);
  body += d.destination + '\0';
  body += static_cast<char>(d.esm_class);
  body += static_cast<char>(0);  // protocol_id
  body += static_cast<char>(0);  // priority_flag
  body += '\0';                  // schedule_delivery_time
  body += '\0';                  // validity_period
  body += static_cast<char>(0);  // registered_delivery
  body += static_cast<char>(0);  // replace_if_present_flag
  body += static_cast<char>(d.data_coding);
  body += static_cast<char>(0);  // sm_default_msg_id
  body += static_cast<char>(d.short_message.size());
  body += d.short_message;
  for (const auto& [tag, value] : d.tlvs) body += be16(tag) + be16(static_cast<std::uint16_t>(value.size())) + value;
  c->send(pdu(0x00000005, 0, seq, body));
  return seq;
}

Deliver Smsc::receipt(const std::string& message_id, const std::string& stat, const std::string& err, bool with_tlvs) {
  Deliver d;
  d.source = "8613800000001";
  d.source_ton = 1;
  d.esm_class = 0x04;
  d.data_coding = 0;
  d.short_message = "id:" + message_id + " sub:001 dlvrd:" + (stat == "DELIVRD" ? "001" : "000") +
                    " submit date:2611301000 done date:2611301001 stat:" + stat + " err:" + err + " text:";
  if (with_tlvs) {
    std::uint8_t state = 7;
    if (stat == "DELIVRD") state = 2;
    if (stat == "EXPIRED") state = 3;
    if (stat == "UNDELIV") state = 5;
    if (stat == "REJECTD") state = 8;
    d.tlvs.push_back({0x001E, message_id + '\0'});
    d.tlvs.push_back({0x0427, std::string(1, static_cast<char>(state))});
  }
  return d;
}

std::optional<std::uint32_t> Smsc::deliver_resp(std::uint32_t sequence, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, wait, [&] { return deliver_resps_.count(sequence) > 0; });
  auto it = deliver_resps_.find(sequence);
  if (it == deliver_resps_.end()) return std::nullopt;
  return it->second;
}

void Smsc::send_raw(const std::string& bytes) {
  if (auto c = newest_bound()) c->send(bytes);
}

void Smsc::drop_all() {
  std::lock_guard lock(mutex_);
  for (auto& c : conns_) c->close();
}

void Smsc::set_password(std::string password) {
  std::lock_guard lock(mutex_);
  password_ = std::move(password);
}
void Smsc::throttle_first(int n, std::uint32_t status) {
  std::lock_guard lock(mutex_);
  throttle_left_ = n;
  throttle_status_ = status;
}
void Smsc::drop_at_submit(int n) {
  std::lock_guard lock(mutex_);
  drop_countdown_ = n;
}
void Smsc::set_delay(std::chrono::milliseconds d) {
  std::lock_guard lock(mutex_);
  delay_ = d;
}
void Smsc::set_answer_enquire_link(bool answer) {
  std::lock_guard lock(mutex_);
  answer_enquire_ = answer;
}

std::vector<Submit> Smsc::submits() const {
  std::lock_guard lock(mutex_);
  return submits_;
}
bool Smsc::wait_submits(std::size_t n, std::chrono::milliseconds limit) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] { return submits_.size() >= n; });
}
bool Smsc::wait_binds(int n, std::chrono::milliseconds limit) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] { return binds_ >= n; });
}
int Smsc::max_outstanding() const {
  std::lock_guard lock(mutex_);
  return max_outstanding_;
}
int Smsc::binds() const {
  std::lock_guard lock(mutex_);
  return binds_;
}
int Smsc::refused_binds() const {
  std::lock_guard lock(mutex_);
  return refused_;
}
int Smsc::unbinds() const {
  std::lock_guard lock(mutex_);
  return unbinds_;
}
int Smsc::enquire_links() const {
  std::lock_guard lock(mutex_);
  return enquire_;
}
int Smsc::generic_nacks() const {
  std::lock_guard lock(mutex_);
  return nacks_;
}
int Smsc::connections() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(conns_.size());
}

}  // namespace villagebot::smsc
