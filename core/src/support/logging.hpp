#pragma once
#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace villagebot::support {

// Sets up the process-wide log sink. Every message passes through a masking
// step, so a phone number written by any plugin appears as 138****0001.
void setup_logging(const std::string& level);
// A named logger that shares the masking sink (one per plugin and adapter).
std::shared_ptr<spdlog::logger> make_logger(const std::string& name);

}  // namespace villagebot::support
