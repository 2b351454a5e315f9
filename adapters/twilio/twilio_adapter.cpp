// The loadable entry point of the Twilio SMS adapter.
#include "twilio.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Twilio, "twilio", "1.0.0")
