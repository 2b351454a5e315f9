#pragma once
// A GSM modem on a pseudo-terminal, for the modem adapter's tests: it speaks the 3GPP TS 27.005
// dialogue in PDU mode (echo until ATE0, OK/ERROR, AT+CPIN, AT+CMGS with its "> " prompt and
// Ctrl-Z, +CMGS: <mr>, +CMTI for messages stored on its SIM, AT+CMGR/CMGL/CMGD, +CDS status
// reports) and decodes what it is asked to send on its own, without the adapter's PDU code.
// The device the adapter opens is a symlink in a temporary folder: unplug() closes the
// pseudo-terminal and removes the link, plug() makes a new one and points the link at it.
// Its SIM outlives unplugging.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace villagebot::testkit {

// An SMS-SUBMIT as the simulator read it.
struct SimSubmit {
  std::string to;    // "+8613800000001" (type 91) or "13800000001"
  std::string text;  // UTF-8
  std::string udh;   // raw, with its UDHL octet; "" none
  std::uint8_t dcs = 0;
  bool status_report = false;
  int cmgs_length = -1;  // what AT+CMGS said
  int tpdu_length = -1;  // what the PDU had after the SMSC address
  int reference = -1;    // the TP-MR the simulator gave it
};
std::optional<SimSubmit> sim_decode_submit(const std::string& hex, std::string& error);

// An SMS-DELIVER with SMSC +8613800200500, time stamp `scts` (12 digits YYMMDDhhmmss, UTC+8):
// GSM-7 when the text allows, else UCS-2. `from`: "+86…" (international) or digits (national).
std::string sim_make_deliver(const std::string& from, const std::string& text, const std::string& udh = {},
                             const std::string& scts = "261130100000");
// An SMS-STATUS-REPORT for TP-MR `reference` to `recipient` with TP-ST `status`.
std::string sim_make_status_report(int reference, const std::string& recipient, std::uint8_t status);

class ModemSim {
 public:
  explicit ModemSim(const std::filesystem::path& dir, std::string pin = {});
  ~ModemSim();
  ModemSim(const ModemSim&) = delete;
  ModemSim& operator=(const ModemSim&) = delete;

  [[nodiscard]] std::string device() const { return link_.string(); }

  // The SIM: a stored message (stat 0, unread), its index. inject() also says +CMTI.
  int store(const std::string& pdu_hex);
  int inject(const std::string& pdu_hex);
  [[nodiscard]] std::vector<int> stored() const;
  void status_report(int reference, const std::string& recipient, std::uint8_t status);

  // The next AT+CMGS answers +CMS ERROR: <code>, one code per send.
  void fail_next_sends(std::vector<int> codes);
  // While held, a PDU is taken but never answered (a send in flight when the modem is pulled).
  void hold_sends(bool hold);
  [[nodiscard]] std::size_t held() const;
  // The next accepted PDU is answered only after `delay`; like a real modem busy with the network,
  // the simulator reads nothing meanwhile (what comes waits in its input).
  void delay_next_send(std::chrono::milliseconds delay);
  // When this command line arrives, the simulator stops reading (the command waits) until resume().
  void pause_on(std::string command);
  void resume();
  [[nodiscard]] bool paused() const;
  // An unsolicited line, e.g. "+CMTI: \"SM\",9".
  void emit(const std::string& line);
  // After the next AT+CMGD, this message arrives in the lowest free slot (with +CMTI), as a real
  // SIM reuses the slot just freed.
  void deliver_after_delete(std::string pdu_hex);

  [[nodiscard]] std::vector<SimSubmit> sent() const;
  [[nodiscard]] std::vector<std::string> commands() const;
  [[nodiscard]] int send_attempts() const;
  [[nodiscard]] bool plugged() const;
  // Runs on the simulator's thread when AT+CMGD=<index> arrives, before the slot is emptied.
  void on_delete(std::function<void(int)> fn);

  void unplug();
  void plug();

 private:
  void open_pty();  // with mutex_ held
  void close_pty();
  void loop();
  void feed(const char* data, std::size_t n);
  void command(const std::string& line);
  void pdu(const std::string& hex);
  void reply(const std::string& text);  // "\r\n<text>\r\n"
  void raw(const std::string& bytes);
  int free_index() const;   // with mutex_ held
  void release_deferred();  // with mutex_ held

  std::filesystem::path link_;
  std::string pin_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int master_ = -1;
  int slave_ = -1;  // held open, so the master never sees a hang-up between the adapter's opens
  bool want_unplug_ = false;
  bool want_plug_ = false;
  bool stop_ = false;
  std::thread thread_;

  bool echo_ = true;
  bool unlocked_ = false;
  bool pdu_mode_ = false;
  std::string line_;
  bool in_pdu_ = false;
  std::string pdu_;
  int cmgs_length_ = -1;
  int next_reference_ = 0;
  int attempts_ = 0;
  struct Slot {
    int stat = 0;
    std::string pdu;
  };
  std::map<int, Slot> sim_;
  std::vector<int> failures_;
  bool hold_ = false;
  std::size_t held_ = 0;
  std::vector<SimSubmit> sent_;
  std::vector<std::string> commands_;
  std::function<void(int)> on_delete_;
  std::chrono::milliseconds delay_{0};
  std::string deferred_;  // an answer due at deferred_due_
  std::chrono::steady_clock::time_point deferred_due_;
  std::string pause_on_;
  bool paused_ = false;
  std::string backlog_;  // input not yet read while busy or paused
  std::string after_delete_;
};

}  // namespace villagebot::testkit
