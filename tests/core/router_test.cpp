#include "pipeline/command_router.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace villagebot::pipeline {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

CommandSpec command(std::string name, std::vector<std::string> keywords, std::vector<std::string> roles = {}) {
  CommandSpec spec;
  spec.name = std::move(name);
  spec.keywords = std::move(keywords);
  spec.roles = std::move(roles);
  spec.handler = [n = spec.name](const CommandRequest&) { return Replies{Reply{n}}; };
  return spec;
}

CommandSpec pattern_command(std::string name, std::vector<std::string> patterns) {
  CommandSpec spec = command(std::move(name), {});
  spec.patterns = std::move(patterns);
  return spec;
}

Person person(std::int64_t id, std::vector<std::string> roles) {
  Person p;
  p.id = id;
  p.name = "p" + std::to_string(id);
  p.roles = std::move(roles);
  return p;
}

const Person kUnregistered = person(0, {});
const Person kVillager = person(1, {"villager"});
const Person kCadre = person(2, {"villager", "cadre"});
const Person kAdmin = person(3, {"admin"});

std::string matched_name(const CommandRouter& router, const std::string& text) {
  auto m = router.match(text);
  return m ? m->entry->spec.name : std::string("<none>");
}

std::vector<std::string> names(const std::vector<std::shared_ptr<const CommandRouter::Entry>>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e->spec.name);
  return out;
}

// ---- Keyword matching -------------------------------------------------------

TEST(CommandRouter, AsciiKeywordsAreCaseInsensitive) {
  CommandRouter router;
  auto reg = router.add(command("points.balance", {"积分", "jf", "Points"}));
  for (const char* text : {"jf", "JF", "Jf", "points", "POINTS", "pOiNtS"}) {
    SCOPED_TRACE(text);
    auto m = router.match(text);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->entry->spec.name, "points.balance");
    EXPECT_EQ(m->keyword, text);  // as the villager wrote it
    EXPECT_EQ(m->rest, "");
  }
  auto m = router.match("JF  3");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rest, "3");
}

TEST(CommandRouter, LongestKeywordWins) {
  CommandRouter router;
  // Registered shortest first and longest first: the order must not matter.
  auto balance = router.add(command("points.balance", {"积分"}));
  auto history = router.add(command("points.history", {"积分明细"}));
  auto shop = router.add(command("points.shop", {"积分超市"}));
  CommandRouter reversed;
  auto r1 = reversed.add(command("points.history", {"积分明细"}));
  auto r2 = reversed.add(command("points.balance", {"积分"}));
  for (const CommandRouter* r : {&router, &reversed}) {
    EXPECT_EQ(matched_name(*r, "积分明细"), "points.history");
    EXPECT_EQ(matched_name(*r, "积分"), "points.balance");
    EXPECT_EQ(matched_name(*r, "积分 明细"), "points.balance");
  }
  EXPECT_EQ(matched_name(router, "积分超市"), "points.shop");
  auto m = router.match("积分明细 5");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->keyword, "积分明细");
  EXPECT_EQ(m->rest, "5");
}

TEST(CommandRouter, ChineseKeywordMayRunIntoItsArguments) {
  CommandRouter router;
  auto reg = router.add(command("points.redeem", {"兑换", "redeem"}));
  auto m = router.match("兑换A01");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->spec.name, "points.redeem");
  EXPECT_EQ(m->keyword, "兑换");
  EXPECT_EQ(m->rest, "A01");

  m = router.match("兑换 A01 2");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rest, "A01 2");

  m = router.match("兑换油2");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rest, "油2");

  m = router.match("redeem A01");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->keyword, "redeem");
  EXPECT_EQ(m->rest, "A01");
}

TEST(CommandRouter, AsciiKeywordMustBeAWholeWord) {
  CommandRouter router;
  auto jf = router.add(command("points.balance", {"jf"}));
  auto top = router.add(command("points.top", {"top"}));
  EXPECT_EQ(matched_name(router, "jfx"), "<none>");
  EXPECT_EQ(matched_name(router, "jf2"), "<none>");
  EXPECT_EQ(matched_name(router, "topic"), "<none>");
  EXPECT_EQ(matched_name(router, "jf"), "points.balance");
  EXPECT_EQ(matched_name(router, "jf 2"), "points.balance");
  EXPECT_EQ(matched_name(router, "top 10"), "points.top");
  // A Chinese word right after an ASCII keyword is not part of that word.
  auto m = router.match("jf张三");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->spec.name, "points.balance");
  EXPECT_EQ(m->rest, "张三");
}

TEST(CommandRouter, KeywordsOnlyMatchAtTheStart) {
  CommandRouter router;
  auto reg = router.add(command("points.balance", {"积分", "jf"}));
  EXPECT_EQ(matched_name(router, "我想查积分"), "<none>");
  EXPECT_EQ(matched_name(router, "hello jf"), "<none>");
  EXPECT_EQ(matched_name(router, ""), "<none>");
}

TEST(CommandRouter, PatternsAreTriedAfterKeywords) {
  CommandRouter router;
  // The pattern is registered first, yet a keyword match still wins.
  auto option = router.add(pattern_command("poll.option", {R"(^\d{1,2}$)"}));
  auto ack = router.add(command("alerts.ack", {"1", "收到", "ok"}));
  auto later = router.add(pattern_command("poll.later", {R"(^\d+$)"}));
  EXPECT_EQ(matched_name(router, "1"), "alerts.ack");
  auto m = router.match("3");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entry->spec.name, "poll.option");  // the earlier registered pattern wins
  EXPECT_EQ(m->keyword, "");
  EXPECT_EQ(m->rest, "3");
  EXPECT_EQ(matched_name(router, "123"), "poll.later");
  EXPECT_EQ(matched_name(router, "abc"), "<none>");
}

TEST(CommandRouter, PatternsAreCaseInsensitive) {
  CommandRouter router;
  auto reg = router.add(pattern_command("tickets.status", {R"(^ticket\s*#?\d+$)"}));
  EXPECT_EQ(matched_name(router, "TICKET #12"), "tickets.status");
  EXPECT_EQ(matched_name(router, "ticket12"), "tickets.status");
}

TEST(CommandRouter, DuplicateKeywordRegistrationThrows) {
  CommandRouter router;
  auto first = router.add(command("points.balance", {"积分", "jf"}));
  EXPECT_THROW((void)router.add(command("other.jf", {"JF"})), std::invalid_argument);
  EXPECT_THROW((void)router.add(command("other.jf", {"ｊｆ"})), std::invalid_argument);  // full-width
  // A refused command leaves none of its other keywords behind.
  EXPECT_THROW((void)router.add(command("points.history", {"mx", "积分"})), std::invalid_argument);
  EXPECT_EQ(matched_name(router, "mx"), "<none>");
  EXPECT_EQ(matched_name(router, "积分"), "points.balance");
  EXPECT_THAT(names(router.allowed_for(kAdmin)), ElementsAre("points.balance"));
}

TEST(CommandRouter, DuplicateKeywordErrorNamesBothCommands) {
  CommandRouter router;
  auto first = router.add(command("points.balance", {"积分"}));
  try {
    (void)router.add(command("rogue.points", {"积分"}));
    FAIL() << "must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("rogue.points"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("points.balance"));
  }
}

TEST(CommandRouter, InvalidSpecsAreRefused) {
  CommandRouter router;
  CommandSpec no_handler = command("x.none", {"x"});
  no_handler.handler = nullptr;
  EXPECT_THROW((void)router.add(no_handler), std::invalid_argument);
  EXPECT_THROW((void)router.add(command("x.empty", {})), std::invalid_argument);
  EXPECT_THROW((void)router.add(pattern_command("x.regex", {"(unclosed"})), std::invalid_argument);
  EXPECT_THROW((void)router.add(command("x.blank", {"  "})), std::invalid_argument);
  EXPECT_THAT(router.allowed_for(kAdmin), IsEmpty());
}

TEST(CommandRouter, DestroyingTheRegistrationRemovesTheCommand) {
  CommandRouter router;
  auto keep = router.add(command("points.balance", {"积分"}));
  {
    auto temp = router.add(command("points.history", {"积分明细", "mx"}));
    EXPECT_EQ(matched_name(router, "积分明细"), "points.history");
  }
  // Gone: the shorter keyword now takes the text, mx matches nothing.
  EXPECT_EQ(matched_name(router, "积分明细"), "points.balance");
  EXPECT_EQ(matched_name(router, "mx"), "<none>");
  EXPECT_THAT(names(router.allowed_for(kAdmin)), ElementsAre("points.balance"));
  // ...and its keywords are free again.
  auto again = router.add(command("points.history2", {"mx"}));
  EXPECT_EQ(matched_name(router, "mx"), "points.history2");

  auto pattern = router.add(pattern_command("poll.option", {R"(^\d$)"}));
  EXPECT_EQ(matched_name(router, "3"), "poll.option");
  pattern.reset();
  EXPECT_EQ(matched_name(router, "3"), "<none>");
}

// ---- Who may use what -------------------------------------------------------

TEST(CommandRouter, PermittedFollowsRoles) {
  CommandSpec anyone_registered = command("points.top", {"top"});
  CommandSpec cadre_only = command("announce.send", {"通知"}, {"cadre"});
  CommandSpec two_roles = command("points.propose", {"加分"}, {"cadre", "evaluator"});
  CommandSpec help = command("core.help", {"帮助"});
  help.allow_unregistered = true;

  EXPECT_TRUE(CommandRouter::permitted(help, kUnregistered));
  EXPECT_FALSE(CommandRouter::permitted(anyone_registered, kUnregistered));
  EXPECT_FALSE(CommandRouter::permitted(cadre_only, kUnregistered));

  EXPECT_TRUE(CommandRouter::permitted(anyone_registered, kVillager));
  EXPECT_FALSE(CommandRouter::permitted(cadre_only, kVillager));
  EXPECT_FALSE(CommandRouter::permitted(two_roles, kVillager));

  EXPECT_TRUE(CommandRouter::permitted(cadre_only, kCadre));
  EXPECT_TRUE(CommandRouter::permitted(two_roles, kCadre));
  EXPECT_TRUE(CommandRouter::permitted(two_roles, person(5, {"evaluator"})));

  for (const auto* spec : {&anyone_registered, &cadre_only, &two_roles, &help})
    EXPECT_TRUE(CommandRouter::permitted(*spec, kAdmin)) << spec->name;

  // An unregistered sender claiming a role gets nothing more.
  EXPECT_FALSE(CommandRouter::permitted(cadre_only, person(0, {"admin"})));
}

TEST(CommandRouter, AllowedForListsPermittedCommandsInRegistrationOrder) {
  CommandRouter router;
  CommandSpec help = command("core.help", {"帮助", "help", "?"});
  help.allow_unregistered = true;
  auto r1 = router.add(command("points.balance", {"积分"}));
  auto r2 = router.add(command("announce.send", {"通知"}, {"cadre"}));
  auto r3 = router.add(std::move(help));
  auto r4 = router.add(command("points.top", {"红榜"}));
  EXPECT_THAT(names(router.allowed_for(kUnregistered)), ElementsAre("core.help"));
  EXPECT_THAT(names(router.allowed_for(kVillager)), ElementsAre("points.balance", "core.help", "points.top"));
  EXPECT_THAT(names(router.allowed_for(kCadre)),
              ElementsAre("points.balance", "announce.send", "core.help", "points.top"));
  EXPECT_THAT(names(router.allowed_for(kAdmin)),
              ElementsAre("points.balance", "announce.send", "core.help", "points.top"));
  // Re-registering puts a command at the end.
  r1.reset();
  auto r5 = router.add(command("points.balance", {"积分"}));
  EXPECT_THAT(names(router.allowed_for(kVillager)), ElementsAre("core.help", "points.top", "points.balance"));
}

// ---- Suggestions ------------------------------------------------------------

class Suggestions : public ::testing::Test {
 protected:
  void SetUp() override {
    CommandSpec help = command("core.help", {"帮助", "菜单", "help", "?"});
    help.allow_unregistered = true;
    regs.push_back(router.add(std::move(help)));
    regs.push_back(router.add(command("points.balance", {"积分", "查积分", "jf", "points"})));
    regs.push_back(router.add(command("points.history", {"积分明细", "mx"})));
    regs.push_back(router.add(command("points.shop", {"积分超市", "商品", "shop"})));
    regs.push_back(router.add(command("announce.send", {"通知"}, {"cadre"})));
    regs.push_back(router.add(command("opinions.submit", {"意见", "建议", "反映", "suggest"})));
  }
  CommandRouter router;
  std::vector<Registration> regs;
};

TEST_F(Suggestions, TypoSuggestsTheNearestKeywordFirst) {
  auto s = router.closest("积份", kVillager, 3);
  ASSERT_THAT(s, SizeIs(3));
  EXPECT_EQ(s[0], "积分");
  EXPECT_THAT(s, ::testing::Not(::testing::Contains("积分明细"))) << "one suggestion per command, its nearest keyword";
  // The suggestion is spelt the way the villager was typing: jd -> jf, not 积分.
  EXPECT_THAT(router.closest("jd", kVillager, 1), ElementsAre("jf"));
  EXPECT_THAT(router.closest("shpo", kVillager, 1), ElementsAre("shop"));
  EXPECT_THAT(router.closest("意建", kVillager, 1), ElementsAre("意见"));
  EXPECT_THAT(router.closest("积份 多少", kVillager, 1), ElementsAre("积分")) << "the first word is what counts";
}

TEST_F(Suggestions, TextContainingAKeywordSuggestsIt) {
  EXPECT_THAT(router.closest("我想查积分", kVillager, 1), ElementsAre("积分"));
  EXPECT_THAT(router.closest("请问怎么提建议呢", kVillager, 1), ElementsAre("建议"));
  EXPECT_THAT(router.closest("请问怎么提建议呢", kVillager, 2), ::testing::Not(::testing::Contains("意见")))
      << "the same command is not suggested twice";
}

TEST_F(Suggestions, OnlyCommandsTheSenderMayUseAreSuggested) {
  // A villager typing a cadre command is not told about it.
  auto s = router.closest("通知大家开会", kVillager, 10);
  EXPECT_THAT(s, ::testing::Not(::testing::Contains("通知")));
  EXPECT_THAT(router.closest("通知大家开会", kCadre, 1), ElementsAre("通知"));
  // An unregistered sender only ever hears about help.
  EXPECT_THAT(router.closest("积分", kUnregistered, 5), ElementsAre("帮助"));
}

TEST_F(Suggestions, AtMostNAreReturned) {
  EXPECT_THAT(router.closest("xyz", kAdmin, 2), SizeIs(2));
  EXPECT_THAT(router.closest("xyz", kAdmin, 0), IsEmpty());
  EXPECT_THAT(router.closest("xyz", kAdmin, 100), SizeIs(6));
}

// ---- Prompts ----------------------------------------------------------------

PromptHandler answering(std::string text) {
  return [text](const CommandRequest&) -> std::optional<Replies> { return Replies{Reply{text}}; };
}

std::string answer_of(const PromptHandler& handler) {
  InboundMessage msg;
  Person p = kVillager;
  CommandRequest req{msg, p, "1", "", "1", {"1"}};
  auto r = handler(req);
  return r && !r->empty() ? r->front().text : std::string("<none>");
}

TEST(CommandRouter, PromptIsPendingUntilConsumed) {
  CommandRouter router;
  EXPECT_FALSE(router.pending_prompt(1));
  router.ask(1, 300s, answering("你选了 1"));
  auto p = router.pending_prompt(1);
  ASSERT_TRUE(p);
  EXPECT_EQ(answer_of(p->first), "你选了 1");
  EXPECT_FALSE(router.pending_prompt(2)) << "prompts belong to one person";
  // Still pending until consumed (e.g. the handler let the message fall through).
  ASSERT_TRUE(router.pending_prompt(1));
  router.consume_prompt(1, p->second);
  EXPECT_FALSE(router.pending_prompt(1));
}

TEST(CommandRouter, ConsumingAnOlderPromptKeepsTheNewerOne) {
  CommandRouter router;
  router.ask(1, 300s, answering("old"));
  const auto old_generation = router.pending_prompt(1)->second;
  router.ask(1, 300s, answering("new"));  // replaces the old question
  auto p = router.pending_prompt(1);
  ASSERT_TRUE(p);
  EXPECT_EQ(answer_of(p->first), "new");
  EXPECT_NE(p->second, old_generation);
  router.consume_prompt(1, old_generation);  // the answer to the old question arrives late
  auto still = router.pending_prompt(1);
  ASSERT_TRUE(still);
  EXPECT_EQ(answer_of(still->first), "new");
  router.consume_prompt(1, still->second);
  EXPECT_FALSE(router.pending_prompt(1));
}

TEST(CommandRouter, ExpiredPromptIsDropped) {
  CommandRouter router;
  // A zero timeout expires as soon as the clock moves past the moment of asking.
  router.ask(1, 0s, answering("too late"));
  const auto asked_by = CommandRouter::Clock::now();
  while (CommandRouter::Clock::now() <= asked_by) {
  }
  EXPECT_FALSE(router.pending_prompt(1));
  EXPECT_FALSE(router.pending_prompt(1));

  router.ask(2, -1s, answering("already expired"));
  EXPECT_FALSE(router.pending_prompt(2));

  // Another person's live prompt is untouched.
  router.ask(3, 300s, answering("live"));
  router.ask(1, 0s, answering("x"));
  EXPECT_TRUE(router.pending_prompt(3));
}

}  // namespace
}  // namespace villagebot::pipeline
