#pragma once
// A real SMSC for the tests: SMPP 3.4 over TCP on 127.0.0.1, port 0, written from the
// specification with its own byte-level parsing (it does not use the adapter's codec, so that a
// mistake there cannot hide itself). One thread accepts, one thread reads each connection, one
// thread sends the delayed answers. Scriptable: refuse binds (wrong password), throttle the first N
// submit_sm, drop the connection at the Nth submit_sm, delay the answers, send deliver_sm (texts
// from phones, parts, receipts), raw bytes, or nothing in answer to enquire_link.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace villagebot::smsc {

// One submit_sm as received, fields read straight from the octets.
struct Submit {
  int connection = 0;
  std::uint32_t sequence = 0;
  std::string service_type;
  std::uint8_t source_ton = 0, source_npi = 0;
  std::string source;
  std::uint8_t dest_ton = 0, dest_npi = 0;
  std::string destination;
  std::uint8_t esm_class = 0, registered_delivery = 0, data_coding = 0;
  std::string short_message;                  // raw octets
  std::map<std::uint16_t, std::string> tlvs;  // raw values
  std::uint32_t answered_status = 0;          // what the SMSC answered (0xFFFFFFFF: dropped, no answer)
  std::string message_id;                     // given when accepted
};

struct Deliver {
  std::string source = "13800000001";
  std::uint8_t source_ton = 0;
  std::uint8_t source_npi = 1;
  std::string destination = "10690000";
  std::uint8_t esm_class = 0;
  std::uint8_t data_coding = 8;
  std::string short_message;  // raw octets
  std::vector<std::pair<std::uint16_t, std::string>> tlvs{};
};

// Big-endian helpers shared with the tests' hand-made PDUs.
std::string be16(std::uint16_t v);
std::string be32(std::uint32_t v);
// A whole PDU: header (length computed) + body.
std::string pdu(std::uint32_t command_id, std::uint32_t status, std::uint32_t sequence, const std::string& body = {});
// The UTF-16BE octets of UTF-8 text (independent of the SDK's encoder).
std::string utf16be(const std::string& utf8);

class Smsc {
 public:
  Smsc(std::string system_id = "village", std::string password = "secret");
  ~Smsc();
  Smsc(const Smsc&) = delete;
  Smsc& operator=(const Smsc&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }

  void set_password(std::string password);
  void throttle_first(int n, std::uint32_t status = 0x58);
  void drop_at_submit(int n);  // the nth submit_sm from now closes its connection unanswered
  void set_delay(std::chrono::milliseconds d);
  void set_answer_enquire_link(bool answer);

  // Sends a deliver_sm on the newest bound connection; its sequence number (0: none bound).
  std::uint32_t deliver(const Deliver& d);
  static Deliver receipt(const std::string& message_id, const std::string& stat, const std::string& err = "000",
                         bool with_tlvs = true);
  // The command_status of the deliver_sm_resp for that sequence, once it came.
  std::optional<std::uint32_t> deliver_resp(std::uint32_t sequence, std::chrono::milliseconds wait);
  void send_raw(const std::string& bytes);  // to the newest bound connection
  void drop_all();                          // closes every connection

  [[nodiscard]] std::vector<Submit> submits() const;
  bool wait_submits(std::size_t n, std::chrono::milliseconds limit) const;
  bool wait_binds(int n, std::chrono::milliseconds limit) const;
  [[nodiscard]] int max_outstanding() const;
  [[nodiscard]] int binds() const;
  [[nodiscard]] int refused_binds() const;
  [[nodiscard]] int unbinds() const;
  [[nodiscard]] int enquire_links() const;
  [[nodiscard]] int generic_nacks() const;
  [[nodiscard]] int connections() const;

 private:
  struct Conn;
  void accept_loop();
  void read_loop(std::shared_ptr<Conn> c);
  void responder_loop();
  void handle(const std::shared_ptr<Conn>& c, std::uint32_t id, std::uint32_t status, std::uint32_t seq,
              const std::string& body);
  void answer_submit(const std::shared_ptr<Conn>& c, std::string bytes);
  std::shared_ptr<Conn> newest_bound();

  std::string system_id_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::thread responder_;

  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::string password_;
  int throttle_left_ = 0;
  std::uint32_t throttle_status_ = 0x58;
  int drop_countdown_ = 0;
  std::chrono::milliseconds delay_{0};
  bool answer_enquire_ = true;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<std::thread> readers_;
  std::vector<Submit> submits_;
  std::map<std::uint32_t, std::uint32_t> deliver_resps_;
  std::uint32_t next_sequence_ = 0;
  std::uint64_t next_message_id_ = 0;
  int max_outstanding_ = 0, binds_ = 0, refused_ = 0, unbinds_ = 0, enquire_ = 0, nacks_ = 0;
  struct Due {
    std::chrono::steady_clock::time_point at;
    std::shared_ptr<Conn> conn;
    std::string bytes;
  };
  std::vector<Due> due_;
};

}  // namespace villagebot::smsc
