// The loadable entry point of the Aliyun SMS adapter.
#include "aliyun_sms.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::AliyunSms, "aliyun-sms", "1.0.0")
