#include "modem_sim.hpp"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "villagebot/sms.hpp"

namespace villagebot::testkit {

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : bytes) {
    out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
  }
  return out;
}

std::optional<std::string> unhex(const std::string& h) {
  if (h.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < h.size(); i += 2) {
    char* end = nullptr;
    const std::string pair = h.substr(i, 2);
    const long v = std::strtol(pair.c_str(), &end, 16);
    if (end != pair.c_str() + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::string swapped(const std::string& digits) {
  std::string out;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const int lo = digits[i] - '0';
    const int hi = i + 1 < digits.size() ? digits[i + 1] - '0' : 0xF;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string address(const std::string& number) {
  const bool intl = number.starts_with("+");
  const std::string digits = intl ? number.substr(1) : number;
  std::string out;
  out.push_back(static_cast<char>(digits.size()));
  out.push_back(static_cast<char>(intl ? 0x91 : 0x81));
  return out + swapped(digits);
}

const std::string kSmsc = std::string("\x08\x91", 2) + swapped("8613800200500");

std::string timestamp(const std::string& yymmddhhmmss) {
  return swapped(yymmddhhmmss) + "\x23";
}  // UTC+8

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::optional<SimSubmit> sim_decode_submit(const std::string& hex_pdu, std::string& error) {
  auto b = unhex(hex_pdu);
  if (!b || b->empty()) {
    error = "not hex";
    return std::nullopt;
  }
  const std::string& s = *b;
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(s.at(i)); };
  try {
    std::size_t i = 1 + at(0);  // past the SMSC address
    const std::size_t tpdu_start = i;
    const unsigned fo = at(i++);
    if ((fo & 3) != 1) {
      error = "not an SMS-SUBMIT";
      return std::nullopt;
    }
    SimSubmit out;
    out.status_report = (fo & 0x20) != 0;
    ++i;  // TP-MR
    const unsigned digits = at(i++);
    const unsigned type = at(i++);
    for (unsigned k = 0; k < digits; ++k) {
      const unsigned octet = at(i + k / 2);
      out.to.push_back(static_cast<char>('0' + ((k % 2 == 0) ? (octet & 0xF) : (octet >> 4))));
    }
    if (type == 0x91) out.to.insert(0, "+");
    i += (digits + 1) / 2;
    ++i;  // TP-PID
    out.dcs = at(i++);
    const unsigned vpf = (fo >> 3) & 3;
    i += vpf == 2 ? 1 : vpf == 0 ? 0 : 7;
    const unsigned udl = at(i++);
    const std::string ud = s.substr(i);
    out.tpdu_length = static_cast<int>(s.size() - tpdu_start);
    std::size_t header = 0;
    if ((fo & 0x40) != 0) {
      header = static_cast<unsigned char>(ud.at(0)) + 1u;
      out.udh = ud.substr(0, header);
    }
    if (out.dcs == 0x08) {
      if (udl != ud.size()) throw std::out_of_range("UDL");
      out.text = sms::ucs2_decode(ud.substr(header));
    } else if (out.dcs == 0x00) {
      if ((udl * 7 + 7) / 8 != ud.size()) throw std::out_of_range("UDL");
      const std::size_t skip = (header * 8 + 6) / 7;
      const int fill = static_cast<int>(skip * 7 - header * 8);
      out.text = sms::gsm7_to_utf8(sms::gsm7_unpack(std::string_view(ud).substr(header), udl - skip, fill));
    } else {
      error = "unexpected DCS";
      return std::nullopt;
    }
    return out;
  } catch (const std::out_of_range&) {
    error = "lengths past the end";
    return std::nullopt;
  }
}

std::string sim_make_deliver(const std::string& from, const std::string& text, const std::string& udh,
                             const std::string& scts) {
  std::string t;
  t.push_back(static_cast<char>(0x04 | (udh.empty() ? 0 : 0x40)));  // SMS-DELIVER, no more messages
  t += address(from);
  t.push_back('\0');
  const auto septets = sms::gsm7_septets(text);
  t.push_back(septets ? '\x00' : '\x08');
  t += timestamp(scts);
  if (septets) {
    const int fill = static_cast<int>((7 - (udh.size() * 8) % 7) % 7);
    t.push_back(static_cast<char>((udh.size() * 8 + static_cast<std::size_t>(fill)) / 7 + septets->size()));
    t += udh + sms::gsm7_pack(*septets, fill);
  } else {
    const std::string data = sms::ucs2_encode(text);
    t.push_back(static_cast<char>(udh.size() + data.size()));
    t += udh + data;
  }
  return hex(kSmsc + t);
}

std::string sim_make_status_report(int reference, const std::string& recipient, std::uint8_t status) {
  std::string t;
  t.push_back('\x06');  // SMS-STATUS-REPORT
  t.push_back(static_cast<char>(reference));
  t += address(recipient);
  t += timestamp("261130100000");
  t += timestamp("261130100005");
  t.push_back(static_cast<char>(status));
  return hex(kSmsc + t);
}

ModemSim::ModemSim(const std::filesystem::path& dir, std::string pin) : link_(dir / "ttyUSB2"), pin_(std::move(pin)) {
  unlocked_ = pin_.empty();
  {
    std::lock_guard lock(mutex_);
    open_pty();
  }
  thread_ = std::thread([this] { loop(); });
}

ModemSim::~ModemSim() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  thread_.join();
  close_pty();
}

void ModemSim::open_pty() {
  const int m = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || ::grantpt(m) != 0 || ::unlockpt(m) != 0) throw std::runtime_error("no pseudo-terminal");
  const char* name = ::ptsname(m);
  if (name == nullptr) throw std::runtime_error("ptsname failed");
  const std::string slave_name = name;
  const int s = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
  if (s < 0) throw std::runtime_error("cannot open " + slave_name);
  termios t{};
  ::tcgetattr(s, &t);
  ::cfmakeraw(&t);
  ::tcsetattr(s, TCSANOW, &t);
  master_ = m;
  slave_ = s;
  // A modem that comes back after a reset starts with echo on and PDU mode off.
  echo_ = true;
  pdu_mode_ = false;
  unlocked_ = pin_.empty();
  line_.clear();
  in_pdu_ = false;
  const auto tmp = link_.parent_path() / ".ttyUSB2.new";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  std::filesystem::create_symlink(slave_name, tmp);
  std::filesystem::rename(tmp, link_);
}

void ModemSim::close_pty() {
  if (master_ >= 0) ::close(master_);
  if (slave_ >= 0) ::close(slave_);
  master_ = slave_ = -1;
  std::error_code ec;
  std::filesystem::remove(link_, ec);
}

void ModemSim::unplug() {
  std::unique_lock lock(mutex_);
  want_unplug_ = true;
  cv_.wait(lock, [this] { return !want_unplug_; });
}

void ModemSim::plug() {
  std::unique_lock lock(mutex_);
  want_plug_ = true;
  cv_.wait(lock, [this] { return !want_plug_; });
}

bool ModemSim::plugged() const {
  std::lock_guard lock(mutex_);
  return master_ >= 0;
}

void ModemSim::loop() {
  char buffer[512];
  for (;;) {
    int fd = -1;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      // Only this thread closes or opens the master, so the poll below never sees a stale fd.
      if (want_unplug_) {
        close_pty();
        want_unplug_ = false;
        cv_.notify_all();
      }
      if (want_plug_) {
        if (master_ < 0) open_pty();
        want_plug_ = false;
        cv_.notify_all();
      }
      fd = master_;
    }
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      release_deferred();
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0 || (p.revents & POLLIN) == 0) continue;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) continue;
    std::lock_guard lock(mutex_);
    feed(buffer, static_cast<std::size_t>(n));
  }
}

void ModemSim::raw(const std::string& bytes) {
  if (master_ >= 0) write_all(master_, bytes);
}

void ModemSim::reply(const std::string& text) {
  raw("\r\n" + text + "\r\n");
}

void ModemSim::release_deferred() {
  if (deferred_.empty() || std::chrono::steady_clock::now() < deferred_due_) return;
  raw(deferred_);
  deferred_.clear();
  if (!paused_) {
    const std::string waiting = std::move(backlog_);
    backlog_.clear();
    feed(waiting.data(), waiting.size());
  }
}

void ModemSim::feed(const char* data, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    if (paused_ || !deferred_.empty()) {
      backlog_.append(data + k, n - k);
      return;
    }
    const char c = data[k];
    if (in_pdu_) {
      if (c == '\x1A') {
        in_pdu_ = false;
        pdu(pdu_);
      } else if (c == '\x1B') {
        in_pdu_ = false;
        reply("OK");
      } else if (c != '\r' && c != '\n') {
        pdu_.push_back(c);
      }
      continue;
    }
    if (c == '\x1B') continue;  // ESC outside PDU input: nothing to leave
    if (c == '\r') {
      const std::string l = line_;
      line_.clear();
      if (!l.empty() && l == pause_on_) {
        pause_on_.clear();
        paused_ = true;
        backlog_ = l + "\r" + backlog_;
        continue;
      }
      if (echo_) raw(l + "\r");
      if (!l.empty()) command(l);
    } else if (c != '\n') {
      line_.push_back(c);
    }
  }
}

void ModemSim::command(const std::string& l) {
  commands_.push_back(l);
  auto starts = [&](const char* p) { return l.rfind(p, 0) == 0; };
  auto number_after = [&](std::size_t at) { return std::atoi(l.c_str() + at); };
  if (l == "AT" || l == "AT+CMEE=1" || l == "AT+CNMI=2,1,0,1,0") return reply("OK");
  if (l == "AT+CSMS=0") {
    reply("+CSMS: 1,1,1");
    return reply("OK");
  }
  if (l == "ATE0") {
    echo_ = false;
    return reply("OK");
  }
  if (l == "AT+CPIN?") {
    reply(unlocked_ ? "+CPIN: READY" : "+CPIN: SIM PIN");
    return reply("OK");
  }
  if (starts("AT+CPIN=")) {
    if (l == "AT+CPIN=\"" + pin_ + "\"") {
      unlocked_ = true;
      return reply("OK");
    }
    return reply("+CME ERROR: 16");
  }
  if (!unlocked_) return reply("+CME ERROR: 11");
  if (l == "AT+CMGF=0") {
    pdu_mode_ = true;
    return reply("OK");
  }
  if (starts("AT+CPMS=")) {
    const std::string used = std::to_string(sim_.size());
    reply("+CPMS: " + used + ",30," + used + ",30," + used + ",30");
    return reply("OK");
  }
  if (!pdu_mode_) return reply("ERROR");
  if (starts("AT+CMGS=")) {
    cmgs_length_ = number_after(8);
    in_pdu_ = true;
    pdu_.clear();
    return raw("\r\n> ");
  }
  if (starts("AT+CMGR=")) {
    auto it = sim_.find(number_after(8));
    if (it == sim_.end()) return reply("+CMS ERROR: 321");
    const auto length = (it->second.pdu.size() / 2) - 1 - std::stoul(it->second.pdu.substr(0, 2), nullptr, 16);
    reply("+CMGR: " + std::to_string(it->second.stat) + ",," + std::to_string(length));
    raw(it->second.pdu + "\r\n");
    it->second.stat = 1;
    return reply("OK");
  }
  if (l == "AT+CMGL=4") {
    for (auto& [index, slot] : sim_) {
      const auto length = (slot.pdu.size() / 2) - 1 - std::stoul(slot.pdu.substr(0, 2), nullptr, 16);
      reply("+CMGL: " + std::to_string(index) + "," + std::to_string(slot.stat) + ",," + std::to_string(length));
      raw(slot.pdu + "\r\n");
      slot.stat = 1;
    }
    return reply("OK");
  }
  if (starts("AT+CMGD=")) {
    const int index = number_after(8);
    if (on_delete_) on_delete_(index);
    sim_.erase(index);
    reply("OK");
    if (!after_delete_.empty()) {
      const int slot = free_index();
      sim_[slot] = Slot{0, after_delete_};
      after_delete_.clear();
      reply("+CMTI: \"SM\"," + std::to_string(slot));
    }
    return;
  }
  reply("ERROR");
}

void ModemSim::pdu(const std::string& hex_pdu) {
  ++attempts_;
  std::string error;
  auto submit = sim_decode_submit(hex_pdu, error);
  if (!submit || submit->tpdu_length != cmgs_length_) return reply("+CMS ERROR: 304");
  submit->cmgs_length = cmgs_length_;
  if (!failures_.empty()) {
    const int code = failures_.front();
    failures_.erase(failures_.begin());
    return reply("+CMS ERROR: " + std::to_string(code));
  }
  if (hold_) {
    ++held_;
    return;
  }
  submit->reference = next_reference_;
  next_reference_ = (next_reference_ + 1) & 0xFF;
  sent_.push_back(*submit);
  const std::string answer = "\r\n+CMGS: " + std::to_string(submit->reference) + "\r\n\r\nOK\r\n";
  if (delay_.count() > 0) {
    deferred_ = answer;
    deferred_due_ = std::chrono::steady_clock::now() + delay_;
    delay_ = std::chrono::milliseconds(0);
    return;
  }
  raw(answer);
}

int ModemSim::free_index() const {
  int index = 1;
  while (sim_.contains(index)) ++index;
  return index;
}

void ModemSim::delay_next_send(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}

void ModemSim::pause_on(std::string command) {
  std::lock_guard lock(mutex_);
  pause_on_ = std::move(command);
}

void ModemSim::resume() {
  std::lock_guard lock(mutex_);
  paused_ = false;
  if (deferred_.empty()) {
    const std::string waiting = std::move(backlog_);
    backlog_.clear();
    feed(waiting.data(), waiting.size());
  }
}

bool ModemSim::paused() const {
  std::lock_guard lock(mutex_);
  return paused_;
}

void ModemSim::emit(const std::string& line) {
  std::lock_guard lock(mutex_);
  reply(line);
}

void ModemSim::deliver_after_delete(std::string pdu_hex) {
  std::lock_guard lock(mutex_);
  after_delete_ = std::move(pdu_hex);
}

int ModemSim::store(const std::string& pdu_hex) {
  std::lock_guard lock(mutex_);
  const int index = free_index();
  sim_[index] = Slot{0, pdu_hex};
  return index;
}

int ModemSim::inject(const std::string& pdu_hex) {
  std::lock_guard lock(mutex_);
  const int index = free_index();
  sim_[index] = Slot{0, pdu_hex};
  reply("+CMTI: \"SM\"," + std::to_string(index));
  return index;
}

std::vector<int> ModemSim::stored() const {
  std::lock_guard lock(mutex_);
  std::vector<int> out;
  for (const auto& [index, slot] : sim_) out.push_back(index);
  return out;
}

void ModemSim::status_report(int reference, const std::string& recipient, std::uint8_t status) {
  std::lock_guard lock(mutex_);
  const std::string pdu_hex = sim_make_status_report(reference, recipient, status);
  reply("+CDS: " + std::to_string(pdu_hex.size() / 2 - kSmsc.size()));
  raw(pdu_hex + "\r\n");
}

void ModemSim::fail_next_sends(std::vector<int> codes) {
  std::lock_guard lock(mutex_);
  failures_ = std::move(codes);
}

void ModemSim::hold_sends(bool hold) {
  std::lock_guard lock(mutex_);
  hold_ = hold;
}

std::size_t ModemSim::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

std::vector<SimSubmit> ModemSim::sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

std::vector<std::string> ModemSim::commands() const {
  std::lock_guard lock(mutex_);
  return commands_;
}

int ModemSim::send_attempts() const {
  std::lock_guard lock(mutex_);
  return attempts_;
}

void ModemSim::on_delete(std::function<void(int)> fn) {
  std::lock_guard lock(mutex_);
  on_delete_ = std::move(fn);
}

}  // namespace villagebot::testkit
