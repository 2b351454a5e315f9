// The loadable entry point of the Feishu / Lark (飞书) adapter.
#include "feishu.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::Feishu, "feishu", "1.0.0")
