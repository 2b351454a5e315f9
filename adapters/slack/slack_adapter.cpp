// The loadable entry point of the Slack adapter.
#include "slack.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Slack, "slack", "1.0.0")
