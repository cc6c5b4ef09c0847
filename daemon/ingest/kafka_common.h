#pragma once
// Internal to ingest: librdkafka configuration helpers shared by consumer and producer.
#include <librdkafka/rdkafka.h>

#include <map>
#include <string>

#include "core/result.h"
#include "ingest/event_source.h"

namespace kamwatch::ingest::detail {

// Builds a conf from defaults, then brokers, then the user's properties (which win).
// On error the conf is destroyed and the message names the property.
[[nodiscard]] Result<rd_kafka_conf_t*> make_conf(const std::string& brokers,
                                                 const std::map<std::string, std::string>& defaults,
                                                 const std::map<std::string, std::string>& user);

// The consumer handle of a Kafka EventSource (nullptr for other sources).
[[nodiscard]] rd_kafka_t* consumer_handle(EventSource& source);

// Routes librdkafka's own log lines into kamwatch's JSON log.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

}  // namespace kamwatch::ingest::detail
