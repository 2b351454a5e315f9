// The loadable entry point of the DingTalk (钉钉) adapter.
#include "dingtalk.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Dingtalk, "dingtalk", "1.0.0")
