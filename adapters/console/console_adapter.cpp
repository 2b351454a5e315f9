// The loadable entry point of the console adapter.
#include "console.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Console, "console", "1.0.0")
