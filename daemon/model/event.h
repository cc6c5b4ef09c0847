#pragma once
// A decoded, validated CloudEvents 1.0 event and where it came from. Value types.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/time.h"

namespace kamwatch::model {

// A data field's value. Nested objects and arrays are kept as their JSON text (kJson).
struct FieldValue {
  enum class Kind : std::uint8_t { kNull, kNumber, kString, kBool, kJson };
  Kind kind = Kind::kNull;
  double number = 0;
  bool boolean = false;
  std::string text;  // kString and kJson

  static FieldValue null() { return {}; }
  static FieldValue of_number(double v) { return {Kind::kNumber, v, false, {}}; }
  static FieldValue of_string(std::string v) { return {Kind::kString, 0, false, std::move(v)}; }
  static FieldValue of_bool(bool v) { return {Kind::kBool, 0, v, {}}; }
  static FieldValue of_json(std::string v) { return {Kind::kJson, 0, false, std::move(v)}; }
  [[nodiscard]] bool is_number() const { return kind == Kind::kNumber; }
  [[nodiscard]] bool is_string() const { return kind == Kind::kString; }
  bool operator==(const FieldValue&) const = default;
};

struct Field {
  std::string name;
  FieldValue value;
  bool operator==(const Field&) const = default;
};

struct Event {
  std::string id;
  std::string source;
  std::string type;
  std::string subject;  // the account id
  TimeMs time = 0;      // event time
  std::vector<Field> data;

  // The field named name, or nullptr. Linear: events carry a handful of fields.
  [[nodiscard]] const FieldValue* find(std::string_view name) const {
    for (const Field& f : data)
      if (f.name == name) return &f.value;
    return nullptr;
  }
  bool operator==(const Event&) const = default;
};

// Where a message was read: Kafka topic/partition/offset, or a file and line (partition -1,
// offset = line number).
struct Origin {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

}  // namespace kamwatch::model
