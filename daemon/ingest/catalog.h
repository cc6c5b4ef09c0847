#pragma once
// The event catalog (docs/event-catalog.md) as data: the known event types, their known data
// fields with the expected kind and documented range, and the validation the decoder applies.
// Unknown types and unknown fields are valid (the catalog says they are kept and usable in
// rules); enum-like strings are not checked, because producers may extend them.
// Thread-safety: immutable static data and pure functions.
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ingest/decoder.h"
#include "model/event.h"

namespace kamwatch::ingest {

enum class FieldKind : std::uint8_t {
  kNumber,
  kString,
  kBool,
  kDate,  // a string "YYYY-MM-DD" (parse_date)
};

// "number", "string", "bool" or "date".
[[nodiscard]] std::string_view field_kind_name(FieldKind kind);

struct FieldSpec {
  std::string_view name;
  FieldKind kind;
  // Range for kNumber; integer means the value must also be a whole number.
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool integer = false;
};

struct EventTypeSpec {
  std::string_view type;           // CloudEvents type, e.g. "sales.order"
  std::string_view proto_message;  // typed payload in kamwatch.events.v1, e.g. "SalesOrder"
  std::span<const FieldSpec> fields;

  // The field spec named name, or nullptr when the field is not in the catalog.
  [[nodiscard]] const FieldSpec* find_field(std::string_view name) const;
};

// All catalog types, in catalog order.
[[nodiscard]] std::span<const EventTypeSpec> known_event_types();

// The spec of a catalog type, or nullptr for a custom (unknown) type.
[[nodiscard]] const EventTypeSpec* find_event_type(std::string_view type);

// Formats a value for a rejection message: quoted, control characters escaped, and cut to
// about 60 bytes (on a UTF-8 boundary) so one bad event cannot flood a log line or header.
[[nodiscard]] std::string quoted_excerpt(std::string_view text);

// Checks a decoded event against the catalog: attribute and string lengths (all fields, known
// or not), and for known fields of known types the kind, range and date format. A null value
// is accepted for any field (same as absent). Returns nullopt when valid.
[[nodiscard]] std::optional<Rejection> validate(const model::Event& event,
                                                const DecodeLimits& limits);

}  // namespace kamwatch::ingest
