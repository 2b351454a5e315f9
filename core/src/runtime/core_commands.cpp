#include "runtime/core_commands.hpp"

#include <nlohmann/json.hpp>

namespace villagebot::runtime {

std::vector<Registration> register_core_commands(pipeline::CommandRouter& router, Directory& directory,
                                                 Messenger& messenger, EventBus& events,
                                                 const std::string& village_name) {
  std::vector<Registration> out;
  out.push_back(router.add(
      CommandSpec{"core.help",
                  {"帮助", "菜单", "help", "?", "menu"},
                  {},
                  {},
                  {"帮助 — 查看您可以使用的命令", "help — the commands you can use"},
                  [&router, village_name](const CommandRequest& req) {
                    const bool en = req.lang == Lang::en;
                    std::string text = en ? "Commands you can use:" : village_name + "村务助手，您可以发送：";
                    const auto allowed = router.allowed_for(req.sender);
                    text.reserve(text.size() + 64 * allowed.size());
                    for (const auto& e : allowed) {
                      text += '\n';
                      text += e->spec.help.in(req.lang);
                    }
                    if (req.sender.id == 0)
                      text += en ? "\nYour number is not registered yet; ask the village committee to register you."
                                 : "\n您的号码尚未登记，登记后可查询积分、提意见等。请联系村委会。";
                    return Replies{Reply{text}};
                  },
                  true}));
  out.push_back(router.add(CommandSpec{
      "core.unsubscribe",
      {"退订", "td", "stop", "unsubscribe"},
      {},
      {},
      {"退订 — 不再接收非紧急短信（应急通知除外）", "stop — no more non-urgent SMS (emergency alerts still come)"},
      [&directory](const CommandRequest& req) {
        if (req.sender.id == 0)
          return Replies{Reply{req.tr(
              {"您的号码未登记，本系统不会给您发送短信。", "Your number is not registered; we send you no SMS."})}};
        directory.set_opted_out(req.sender.id, true);
        return Replies{Reply{
            req.tr({"已退订。今后不再给您发送非紧急短信，应急通知仍会发送。发送「订阅」可恢复。",
                    "Unsubscribed: no more non-urgent SMS; emergency alerts still come. Send \"start\" to resume."})}};
      },
      true}));
  out.push_back(router.add(CommandSpec{
      "core.subscribe",
      {"订阅", "start", "subscribe"},
      {},
      {},
      {"订阅 — 恢复接收短信通知", "start — receive SMS notices again"},
      [&directory](const CommandRequest& req) {
        if (req.sender.id == 0)
          return Replies{Reply{req.tr(
              {"您的号码未登记，请联系村委会登记。", "Your number is not registered; ask the village committee."})}};
        directory.set_opted_out(req.sender.id, false);
        return Replies{Reply{req.tr(
            {"已恢复订阅，您会继续收到村里的短信通知。", "Subscribed again: you will receive village SMS notices."})}};
      },
      true}));
  // 收到: the recipient acknowledges the latest broadcast they were sent (issue 4 §5). Plugins
  // that track acknowledgements (announcements, emergency) listen for broadcast.acknowledged.
  out.push_back(router.add(CommandSpec{
      "core.acknowledge",
      {"收到", "已收到", "ok", "received"},
      {"^1$"},  // a bare 1 (a keyword "1" would also take "1号田水渠坏了")
      {},
      {"收到 — 确认已收到最近的通知", "ok — confirm you received the latest notice"},
      [&messenger, &events](const CommandRequest& req) {
        if (req.sender.id == 0)
          return Replies{Reply{req.tr({"您的号码未登记，请联系村委会。", "Your number is not registered."})}};
        const std::int64_t broadcast = messenger.acknowledge(req.sender.id, 0);
        if (broadcast == 0)
          return Replies{Reply{req.tr({"近期没有需要您确认的通知。", "There is no recent notice to confirm."})}};
        events.publish("broadcast.acknowledged", {{"broadcast_id", broadcast}, {"person_id", req.sender.id}});
        const auto status = messenger.broadcast_status(broadcast);
        const std::string title = status.is_object() ? status.value("title", std::string()) : std::string();
        if (!title.empty())
          return Replies{Reply{req.lang == Lang::en ? "Confirmed: you received \"" + title + "\". Thank you!"
                                                    : "已确认收到「" + title + "」，谢谢！"}};
        return Replies{Reply{req.tr({"已确认收到，谢谢！", "Confirmed, thank you!"})}};
      },
      true}));
  return out;
}

}  // namespace villagebot::runtime
