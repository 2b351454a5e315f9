// The loadable entry point of the Tencent Cloud SMS adapter.
#include "tencent_sms.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::TencentSms, "tencent-sms", "1.0.0")
