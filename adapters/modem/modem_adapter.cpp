// The loadable entry point of the GSM modem adapter.
#include "modem.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::modem::Modem, "modem", "1.0.0")
