#include "console.hpp"

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <iostream>

#include "villagebot/text.hpp"

namespace villagebot::adapters {

Console::~Console() {
  stop();
}

void Console::configure(ConfigSection& config) {
  as_ = config.require_string("as");
  prompt_ = config.string_or("prompt", "false") == "true";
  if (!as_.empty() && !text::normalise_phone(as_)) config.error("as", "must be a phone number, e.g. 13800000001");
}

void Console::start(AdapterContext& context) {
  context_ = &context;
  stopping_ = false;
  reader_ = std::thread([this] { read_loop(); });
}

void Console::stop() {
  stopping_ = true;
  if (reader_.joinable()) reader_.join();
}

void Console::print(const std::string& text) {
  std::lock_guard lock(out_mutex_);
  std::cout << text << std::endl;
}

void Console::read_loop() {
  std::string pending;
  std::uint64_t counter = 0;
  const auto session =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto show_prompt = [this] {
    if (!prompt_) return;
    std::lock_guard lock(out_mutex_);
    std::cout << "> " << std::flush;
  };
  show_prompt();
  char buf[4096];
  while (!stopping_) {
    // Poll so that stop() is noticed even while nobody types.
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&fd, 1, 200);
    if (ready <= 0) continue;
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (text::trim(line).empty()) {
        show_prompt();
        continue;
      }
      InboundMessage m;
      m.sender = as_;
      m.text = line;
      m.message_id = "console-" + std::to_string(session) + "-" + std::to_string(++counter);
      std::promise<SubmitResult> done;
      auto result = done.get_future();
      context_->submit(std::move(m), [&done](const SubmitResult& r) { done.set_value(r); });
      const SubmitResult r = result.get();
      if (r.status == SubmitResult::Status::rejected || r.status == SubmitResult::Status::unavailable) {
        print("(" + r.error + ")");
      }
      for (const auto& reply : r.replies) print(reply.text);
      show_prompt();
    }
  }
  if (!stopping_) context_->request_shutdown();
}

SendResult Console::send(const OutboundMessage& message) {
  print("【消息】" + message.text);
  return SendResult::ok();
}

}  // namespace villagebot::adapters
