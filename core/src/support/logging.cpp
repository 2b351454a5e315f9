#include "support/logging.hpp"

#include <cstdio>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "villagebot/text.hpp"

namespace villagebot::support {

namespace {

class MaskingSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    const std::string masked = text::mask_phones_in(std::string_view(formatted.data(), formatted.size()));
    std::fwrite(masked.data(), 1, masked.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

std::shared_ptr<spdlog::sinks::sink>& shared_sink() {
  static std::shared_ptr<spdlog::sinks::sink> sink = [] {
    auto s = std::make_shared<MaskingSink>();
    s->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
    return s;
  }();
  return sink;
}

}  // namespace

void setup_logging(const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("villagebot", shared_sink());
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> make_logger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(name, shared_sink());
  logger->set_level(spdlog::get_level());
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace villagebot::support
