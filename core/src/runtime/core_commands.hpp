#pragma once
#include <vector>

#include "pipeline/command_router.hpp"
#include "villagebot/directory.hpp"

namespace villagebot::runtime {

// 帮助 / 菜单 / help / ?, 退订 / TD / STOP and 订阅 / START.
std::vector<Registration> register_core_commands(pipeline::CommandRouter& router, Directory& directory,
                                                 const std::string& village_name);

}  // namespace villagebot::runtime
