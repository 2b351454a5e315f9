#pragma once
#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "villagebot/adapter.hpp"

namespace villagebot::adapters {

// `villagebot chat --as PHONE`: each line on standard input is a message from
// that phone; replies and later messages to it are printed. End of input
// stops the process.
class Console final : public Adapter {
 public:
  ~Console() override;
  void configure(ConfigSection& config) override;
  void start(AdapterContext& context) override;
  void stop() override;
  SendResult send(const OutboundMessage& message) override;

 private:
  void read_loop();
  void print(const std::string& text);
  std::string as_;
  bool prompt_ = false;
  AdapterContext* context_ = nullptr;
  std::mutex out_mutex_;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
};

}  // namespace villagebot::adapters
