// libFuzzer target: the structured-JSON CloudEvents decoder (ingest::Decoder::decode with no
// headers, i.e. a plain Kafka value or a JSON Lines line). The input is the message value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/decoder.h"
#include "ingest/message.h"
#include "model/event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kamwatch;
  static ingest::Decoder decoder;  // one per thread in the daemon, reused across messages
  ingest::RawMessage msg;
  msg.topic = "t";
  msg.value = std::string_view(reinterpret_cast<const char*>(data), size);
  model::Event event;
  const auto rejection = decoder.decode(msg, event);
  static const bool verbose = std::getenv("KAMWATCH_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s\n", rejection ? (std::string(ingest::reason_code(rejection->reason)) + ": " + rejection->message).c_str()
                                            : ("accepted " + event.type).c_str());
  }
  if (rejection) {
    // Every rejection carries a stable reason code and a message.
    if (ingest::reason_code(rejection->reason).empty() || rejection->message.empty()) __builtin_trap();
  } else {
    // A valid event has every required attribute.
    if (event.id.empty() || event.source.empty() || event.type.empty() || event.subject.empty()) {
      __builtin_trap();
    }
  }
  return 0;
}
