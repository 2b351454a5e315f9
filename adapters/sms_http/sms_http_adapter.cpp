// The loadable entry point of the sms-http adapter.
#include "sms_http.hpp"
#include "villagebot/abi.hpp"

VILLAGEBOT_ADAPTER(villagebot::adapters::sms_http::SmsHttp, "sms-http", "1.0.0")
