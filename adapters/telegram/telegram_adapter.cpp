// The loadable entry point of the Telegram adapter.
#include "telegram.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Telegram, "telegram", "1.0.0")
