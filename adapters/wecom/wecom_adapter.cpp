// The loadable entry point of the WeCom (企业微信) adapter.
#include "villagebot/abi.hpp"
#include "wecom.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Wecom, "wecom", "1.0.0")
