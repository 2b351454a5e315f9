#include "pipeline/message_log.hpp"

#include <gtest/gtest.h>

#include <string>

// The answers the pipeline stores once (core_011): only long ones, exactly the same texts, the
// last kCapacity of them.
namespace villagebot::pipeline::message_log {
namespace {

Replies long_answer(int n) {
  return {Reply{std::string(RepeatedAnswers::kMinBytes, 'a') + std::to_string(n)}};
}

TEST(RepeatedAnswers, ShortAnswersAreNotWorthAReference) {
  EXPECT_EQ(RepeatedAnswers::key({Reply{"收到"}}), 0U);
  EXPECT_EQ(RepeatedAnswers::key({}), 0U);
  EXPECT_NE(RepeatedAnswers::key(long_answer(1)), 0U);
  RepeatedAnswers repeated;
  repeated.remember({Reply{"收到"}}, 0, 7);
  EXPECT_EQ(repeated.find({Reply{"收到"}}, 0), 0);
}

TEST(RepeatedAnswers, OnlyTheSameTextsInTheSameOrderMatch) {
  RepeatedAnswers repeated;
  Replies two = long_answer(1);
  two.push_back(Reply{"第二条"});
  repeated.remember(two, RepeatedAnswers::key(two), 11);
  EXPECT_EQ(repeated.find(two, RepeatedAnswers::key(two)), 11);
  Replies swapped{two[1], two[0]};
  EXPECT_EQ(repeated.find(swapped, RepeatedAnswers::key(swapped)), 0);
  EXPECT_EQ(repeated.find(long_answer(1), RepeatedAnswers::key(long_answer(1))), 0) << "a prefix is not the same";
  // The same key with other texts (a hash collision) is no match either.
  EXPECT_EQ(repeated.find(long_answer(2), RepeatedAnswers::key(two)), 0);
}

TEST(RepeatedAnswers, TheOldestIsReplacedWhenFull) {
  RepeatedAnswers repeated;
  const int full = static_cast<int>(RepeatedAnswers::kCapacity);
  for (int i = 0; i <= full; ++i) repeated.remember(long_answer(i), RepeatedAnswers::key(long_answer(i)), 100 + i);
  EXPECT_EQ(repeated.find(long_answer(0), RepeatedAnswers::key(long_answer(0))), 0) << "pushed out";
  EXPECT_EQ(repeated.find(long_answer(1), RepeatedAnswers::key(long_answer(1))), 101);
  EXPECT_EQ(repeated.find(long_answer(full), RepeatedAnswers::key(long_answer(full))), 100 + full);
  // Remembering one already known changes nothing (it keeps its first message).
  repeated.remember(long_answer(1), RepeatedAnswers::key(long_answer(1)), 999);
  EXPECT_EQ(repeated.find(long_answer(1), RepeatedAnswers::key(long_answer(1))), 101);
}

}  // namespace
}  // namespace villagebot::pipeline::message_log
