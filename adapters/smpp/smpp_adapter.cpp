// The loadable entry point of the SMPP adapter.
#include "smpp.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Smpp, "smpp", "1.0.0")
