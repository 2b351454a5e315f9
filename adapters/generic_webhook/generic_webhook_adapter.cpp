// The loadable entry point of the generic-webhook adapter.
#include "generic_webhook.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::GenericWebhook, "generic-webhook", "1.0.0")
