// Opinion tickets (issue 8, part 1) as villagers and officials notice them: a ticket from
// 三组 reaches 三组's responsible person; unanswered past its SLA it goes to the village
// level, once; the answer reaches the villager, who rates it; an anonymous ticket never
// shows the sender to the handler (messages or API), only to a supervisor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "mock_gateway.hpp"
#include "testkit.hpp"

namespace villagebot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testkit::eventually;
using testkit::MockGateway;
using testkit::TestServer;
using Api = testkit::ApiClient;
using Clock = testkit::ManualClock;

// 三组's responsible person is 孙组长 (13500000003); the village's is 郭书记 (13500000001),
// set through the API (the register names only 村民小组 and 院落).
constexpr const char* kVillage =
    "户号,户主,姓名,手机,村民小组,角色,企业微信,钉钉,飞书,telegram,语言,中心户,负责\n"
    "H001,郭书记,郭书记,13500000001,一组,村干部,,,,,,,\n"
    "H002,孙组长,孙组长,13500000003,三组,组长,,,,,,,三组\n"
    "H003,王大山,王大山,13500000010,三组,村民,,,,,,,\n"
    "H004,李监督,李监督,13500000020,一组,监督员,,,,,,,\n";

class Tickets : public ::testing::Test {
 protected:
  Tickets() {
    testkit::Options o;
    o.plugins = {"opinions"};
    o.now = [this] { return clock_.now(); };
    o.people_csv = kVillage;
    o.adapter_toml = "reply_url = \"" + gw_.url("/send") + "\"\n";
    o.plugin_sections = {{"opinions", "default_sla_hours = 72\n"}};
    o.extra_toml =
        "[[plugins.opinions.categories]]\nname = \"基础设施\"\nkeywords = [\"路灯\", \"修路\"]\nsla_hours = 48\n";
    server_ = std::make_unique<TestServer>(o);
    Api admin(*server_, "admin");
    const auto root = server_->count("SELECT id FROM core_org_units WHERE parent_id IS NULL");
    const auto secretary = person("13500000001");
    auto r = admin.call("PUT", "/api/v1/org-units/" + std::to_string(root), {{"responsible_person_id", secretary}});
    EXPECT_EQ(r.status, 200) << r.raw;
  }
  std::int64_t person(const std::string& phone) {
    return server_->count("SELECT id FROM core_persons WHERE phone = '+86" + phone + "'");
  }
  std::vector<testkit::GatewayMessage> to(const std::string& phone) {
    std::vector<testkit::GatewayMessage> out;
    for (const auto& m : gw_.messages())
      if (m.recipient == "+86" + phone) out.push_back(m);
    return out;
  }

  MockGateway gw_;
  Clock clock_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(Tickets, AssignedToTheUnitsResponsiblePersonEscalatedOnceAnsweredAndRated) {
  auto replies = server_->send("13500000010", "意见：村口路灯坏了，晚上看不见路！");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], HasSubstr("YJ-2026-0001"));
  EXPECT_THAT(replies[0], HasSubstr("基础设施"));
  EXPECT_THAT(replies[0], HasSubstr("孙组长"));
  ASSERT_TRUE(eventually([&] { return to("13500000003").size() == 1; }));
  EXPECT_THAT(to("13500000003")[0].text, HasSubstr("村口路灯坏了，晚上看不见路！"));
  EXPECT_THAT(to("13500000003")[0].text, HasSubstr("王大山"));
  EXPECT_TRUE(to("13500000001").empty());

  // 48 hours (the category's SLA) less a minute: still with 三组.
  clock_.advance(48h - 1min);
  server_->poke_scheduler();
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(to("13500000001").empty());
  // Past it: to the village level, once.
  clock_.advance(2min);
  server_->poke_scheduler();
  ASSERT_TRUE(eventually([&] { return to("13500000001").size() == 1; }));
  EXPECT_THAT(to("13500000001")[0].text, HasSubstr("逾期"));
  EXPECT_THAT(to("13500000001")[0].text, HasSubstr("YJ-2026-0001"));
  EXPECT_THAT(server_->send("13500000010", "进度 yj-2026-0001").at(0), HasSubstr("已逾期转上级处理"));
  // Further SLA periods: the top of the chain, nobody more is told, nothing twice.
  for (int k = 0; k < 3; ++k) {
    clock_.advance(49h);
    server_->poke_scheduler();
  }
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(to("13500000001").size(), 1u);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM op_ticket_events WHERE event = 'escalated'"), 1);

  // The group leader is no longer the assignee; the secretary (a cadre) answers.
  EXPECT_THAT(server_->send("13500000003", "答复 YJ-2026-0001 已修").at(0), HasSubstr("不是交给您"));
  EXPECT_THAT(server_->send("13500000001", "答复 YJ-2026-0001 路灯已换新，谢谢反映。").at(0), HasSubstr("已答复"));
  ASSERT_TRUE(eventually([&] { return to("13500000010").size() == 1; }));
  EXPECT_THAT(to("13500000010")[0].text, HasSubstr("路灯已换新，谢谢反映。"));
  EXPECT_THAT(server_->send("13500000010", "我的意见").at(0), HasSubstr("已答复"));
  EXPECT_THAT(server_->send("13500000010", "满意").at(0), HasSubstr("满意"));
  Api supervisor(*server_, "supervisor");
  auto r = supervisor.call("GET", "/api/v1/opinions/satisfaction");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["by_handler"][0]["satisfied"], 1) << r.raw;
  EXPECT_THAT(server_->send("13500000001", "答复 YJ-2026-0001 再答一次").at(0), HasSubstr("已经答复"));
}

TEST_F(Tickets, AnAnonymousSenderIsHiddenFromTheHandlerAndShownToASupervisor) {
  auto replies = server_->send("13500000010", "反映 匿名 有人在河边倒垃圾");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], HasSubstr("匿名"));
  ASSERT_TRUE(eventually([&] { return to("13500000003").size() == 1; }));
  const std::string message = to("13500000003")[0].text;
  EXPECT_THAT(message, HasSubstr("有人在河边倒垃圾"));
  EXPECT_THAT(message, Not(HasSubstr("王大山")));
  EXPECT_THAT(message, Not(HasSubstr("13500000010")));
  EXPECT_THAT(message, Not(HasSubstr("H003")));

  Api cadre(*server_, "cadre", person("13500000001"));
  Api leader(*server_, "group_leader", person("13500000003"));
  for (Api* api : {&cadre, &leader}) {
    for (const char* path :
         {"/api/v1/opinions/tickets", "/api/v1/opinions/tickets/YJ-2026-0001", "/api/v1/opinions/tickets.csv"}) {
      auto r = api->call("GET", path);
      ASSERT_EQ(r.status, 200) << path << r.raw;
      EXPECT_THAT(r.raw, Not(HasSubstr("王大山"))) << path;
      EXPECT_THAT(r.raw, Not(HasSubstr("13500000010"))) << path;
      EXPECT_THAT(r.raw, HasSubstr("河边倒垃圾")) << path;
    }
  }
  Api supervisor(*server_, "supervisor");
  auto r = supervisor.call("GET", "/api/v1/opinions/tickets/YJ-2026-0001");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["sender"]["name"], "王大山") << r.raw;
  EXPECT_EQ(r.body["sender"]["phone"], "+8613500000010") << r.raw;
  // Answered through the API by the handler: the villager gets it, still without his name anywhere.
  r = leader.call("POST", "/api/v1/opinions/tickets/YJ-2026-0001/answer", {{"text", "已安排清理并立了警示牌"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_THAT(r.raw, Not(HasSubstr("王大山")));
  ASSERT_TRUE(eventually([&] { return to("13500000010").size() == 1; }));
  EXPECT_THAT(to("13500000010")[0].text, HasSubstr("已安排清理"));
}

TEST_F(Tickets, BadInputIsRefusedAndOnlyTheSenderOrHandlerSeesProgress) {
  EXPECT_THAT(server_->send("13500000010", "意见").at(0), HasSubstr("用法"));
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM op_tickets"), 0);
  server_->send("13500000010", "建议 村里办个夜校");
  EXPECT_THAT(server_->send("13500000020", "进度 YJ-2026-0001").at(0), HasSubstr("没有找到"));
  EXPECT_THAT(server_->send("13500000003", "进度 YJ-2026-0001").at(0), HasSubstr("处理中"));
  EXPECT_THAT(server_->send("13500000010", "满意").at(0), HasSubstr("没有可以评价"));
  EXPECT_THAT(server_->send("13500000010", "答复 YJ-2026-0001 自己答").at(0), Not(HasSubstr("已答复")));
  Api cadre(*server_, "cadre", person("13500000001"));
  EXPECT_EQ(cadre.call("POST", "/api/v1/opinions/tickets/YJ-2026-0001/answer", "not an object").status, 400);
  EXPECT_EQ(cadre.call("POST", "/api/v1/opinions/tickets/YJ-2099-0001/answer", {{"text", "x"}}).status, 404);
  EXPECT_EQ(cadre.call("POST", "/api/v1/opinions/tickets/YJ-2026-0001/answer", {{"text", " "}}).status, 422);
  Api villager(*server_, "villager");
  EXPECT_EQ(villager.call("GET", "/api/v1/opinions/tickets").status, 403);
  // "Mine" for a token that acts for nobody is refused, not answered with someone else's tickets.
  Api faceless(*server_, "cadre");
  EXPECT_EQ(faceless.call("GET", "/api/v1/opinions/tickets?mine=true").status, 422);
  EXPECT_EQ(faceless.call("GET", "/api/v1/opinions/tickets").body["total"], 1);
  EXPECT_EQ(cadre.call("GET", "/api/v1/opinions/tickets?mine=true").status, 200);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM op_tickets WHERE status = 'open'"), 1);
}

// A cadre who answers for 一组 only sees, reads and answers 一组's tickets and polls 一组's people;
// the village's secretary reaches everything (docs/API.md "Roles and scope").
TEST_F(Tickets, AScopedCadreReachesOnlyTheirOwnUnits) {
  server_->send("13500000010", "意见 三组的水渠堵了");
  Api admin(*server_, "admin");
  const auto group1 = server_->count("SELECT id FROM core_org_units WHERE path = '一组'");
  ASSERT_EQ(admin
                .call("PUT", "/api/v1/org-units/" + std::to_string(group1),
                      {{"responsible_person_id", person("13500000020")}})
                .status,
            200);
  Api scoped(*server_, "cadre", person("13500000020"));
  Api secretary(*server_, "cadre", person("13500000001"));
  EXPECT_EQ(secretary.call("GET", "/api/v1/opinions/tickets").body["total"], 1);
  auto r = scoped.call("GET", "/api/v1/opinions/tickets");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["total"], 0);
  EXPECT_TRUE(r.body["items"].empty());
  r = scoped.call("GET", "/api/v1/opinions/tickets/YJ-2026-0001");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["error"]["code"], "out_of_scope");
  r = scoped.call("POST", "/api/v1/opinions/tickets/YJ-2026-0001/answer", {{"text", "不归我管也答"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(server_->count("SELECT COUNT(*) FROM op_tickets WHERE status = 'open'"), 1) << "nothing was answered";
  const auto csv =
      server_->request("GET", "/api/v1/opinions/tickets.csv", "", {{"Authorization", "Bearer " + scoped.token()}});
  EXPECT_EQ(csv.body.find("水渠"), std::string::npos);

  const auto deadline =
      std::chrono::duration_cast<std::chrono::milliseconds>((clock_.now() + std::chrono::hours(24)).time_since_epoch())
          .count();
  const nlohmann::json poll{{"question", "修水渠吗"}, {"options", {"修", "不修"}}, {"deadline", deadline}};
  auto everyone = poll;
  everyone["audience"] = {{"everyone", true}};
  r = scoped.call("POST", "/api/v1/opinions/polls", everyone);
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "out_of_scope");
  auto own = poll;
  own["audience"] = {{"org_units", {group1}}};
  EXPECT_EQ(scoped.call("POST", "/api/v1/opinions/polls", own).status, 201);
}

}  // namespace
}  // namespace villagebot
