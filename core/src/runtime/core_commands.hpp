#pragma once
#include <vector>

#include "pipeline/command_router.hpp"
#include "villagebot/directory.hpp"
#include "villagebot/events.hpp"
#include "villagebot/messenger.hpp"

namespace villagebot::runtime {

// 帮助 / 菜单 / help / ?, 退订 / TD / STOP, 订阅 / START and 收到 / OK.
std::vector<Registration> register_core_commands(pipeline::CommandRouter& router, Directory& directory,
                                                 Messenger& messenger, EventBus& events,
                                                 const std::string& village_name);

}  // namespace villagebot::runtime
