#pragma once
// Decodes and validates CloudEvents 1.0 events per docs/event-catalog.md, in three encodings:
//  - structured JSON (content-type application/cloudevents+json, or no content-type header);
//  - Kafka binary mode (ce_* headers carry the attributes, the value is the JSON data);
//  - protobuf (content-type application/cloudevents+protobuf; io.cloudevents.v1.CloudEvent
//    with data as text_data JSON or as a typed kamwatch.events.v1 message in proto_data).
// Thread-safety: a Decoder holds parser buffers; use one per thread. No exceptions escape.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/message.h"
#include "model/event.h"

namespace kamwatch::ingest {

// Why an event was not applied. The code (reason_code) is stable: it goes into the
// dead-letter header and the metrics label.
enum class Reason {
  kInvalidJson,         // "invalid_json": not parseable / truncated JSON
  kNotAnObject,         // "not_an_object": the event is valid JSON but not an object
  kMissingAttribute,    // "missing_attribute": a required CloudEvents attribute is absent/empty
  kBadSpecVersion,      // "bad_specversion": specversion is not "1.0"
  kBadAttribute,        // "bad_attribute": an attribute has the wrong JSON type
  kBadTime,             // "bad_time": time is not RFC 3339
  kDataNotObject,       // "data_not_object": data present but not a JSON object
  kWrongFieldType,      // "wrong_field_type": a catalog field has the wrong type
  kOutOfRange,          // "out_of_range": a catalog field is outside its documented range
  kStringTooLong,       // "string_too_long": a string longer than the limit (1 KiB)
  kOversize,            // "oversize": the whole message exceeds the size limit
  kBadProtobuf,         // "bad_protobuf": protobuf bytes that do not parse
  kUnsupportedContent,  // "unsupported_content_type": an unknown content-type header
  kLate,                // "late": older than the account's watermark minus the grace
  kPoison,              // "poison": processing failed repeatedly (quarantined)
  kProcessingError,     // "processing_error": applying or evaluating the event threw
};

[[nodiscard]] std::string_view reason_code(Reason r);

struct Rejection {
  Reason reason;
  std::string message;  // e.g. "attribute 'time' is not RFC 3339: \"yesterday\""
};

struct DecodeLimits {
  std::size_t max_message_bytes = 1024 * 1024;
  std::size_t max_string_bytes = 1024;
};

class Decoder {
 public:
  explicit Decoder(DecodeLimits limits = {});
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes msg into out (its storage is reused). Returns nullopt when out holds a valid
  // event, or the reason it is invalid.
  [[nodiscard]] std::optional<Rejection> decode(const RawMessage& msg, model::Event& out);

  // Decodes one structured-JSON event (a JSON Lines line, or a Kafka value).
  [[nodiscard]] std::optional<Rejection> decode_json(std::string_view json, model::Event& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DecodeLimits limits_;
};

}  // namespace kamwatch::ingest
