#include <gtest/gtest.h>

#include "ingest/kafka.h"
#include "ingest/kafka_common.h"

namespace kamwatch::ingest {
namespace {

TEST(KafkaConfig, SecretsAreMaskedInLogs) {
  EXPECT_EQ(loggable_property("sasl.password", "hunter2"), "***");
  EXPECT_EQ(loggable_property("ssl.key.password", "x"), "***");
  EXPECT_EQ(loggable_property("ssl.key.pem", "-----BEGIN"), "***");
  EXPECT_EQ(loggable_property("sasl.oauthbearer.client.secret", "s"), "***");
  EXPECT_EQ(loggable_property("security.protocol", "SASL_SSL"), "SASL_SSL");
  EXPECT_EQ(loggable_property("sasl.username", "kam"), "kam");
}

TEST(KafkaConfig, AnyLibrdkafkaPropertyPassesThroughAndBadOnesNameTheProperty) {
  auto ok = detail::make_conf("127.0.0.1:1", {{"client.id", "kamwatch"}},
                              {{"security.protocol", "SASL_PLAINTEXT"},
                               {"sasl.mechanisms", "PLAIN"},
                               {"sasl.username", "u"},
                               {"sasl.password", "p"}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  rd_kafka_conf_destroy(*ok);
  auto bad = detail::make_conf("127.0.0.1:1", {},
                               {{"no.such.property", "1"}, {"sasl.password", "hunter2"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("no.such.property"), std::string::npos);
  EXPECT_EQ(bad.error().message.find("hunter2"), std::string::npos) << "secret leaked";
}

}  // namespace
}  // namespace kamwatch::ingest
