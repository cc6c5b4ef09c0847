#include "core/log.h"

#include <gtest/gtest.h>

namespace kamwatch::log {
namespace {

TEST(Log, OneJsonObjectPerLineWithAttributes) {
  const std::string line = format(Level::kWarn, "batch not committed",
                                  {{"topic", "events"},
                                   {"partition", 3},
                                   {"offset", std::int64_t{42}},
                                   {"ratio", 0.5},
                                   {"retry", true},
                                   {"error", "disk \"full\"\n"}});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u);
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos);
  EXPECT_NE(line.find("\"msg\":\"batch not committed\""), std::string::npos);
  EXPECT_NE(
      line.find("\"topic\":\"events\",\"partition\":3,\"offset\":42,\"ratio\":0.5,\"retry\":true"),
      std::string::npos);
  EXPECT_NE(line.find("\"error\":\"disk \\\"full\\\"\\n\""), std::string::npos) << line;
}

TEST(Log, LevelNames) {
  EXPECT_TRUE(set_level("warn"));
  EXPECT_FALSE(enabled(Level::kInfo));
  EXPECT_TRUE(enabled(Level::kError));
  EXPECT_FALSE(set_level("loud"));
  EXPECT_TRUE(set_level("info"));
}

}  // namespace
}  // namespace kamwatch::log
