#pragma once
// Derived series: aggregates of the events of one type that pass a filter, optionally split by
// the value of a field (e.g. support.ticket{severity<=2}, or sales.order by category). The rule
// compiler asks for them; model::apply maintains them next to the per-type aggregates.
// Thread-safety: values; a SeriesSpecs index is immutable once built and shared read-only.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/event.h"

namespace kamwatch::model {

struct Predicate {
  enum class Op : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
  std::string field;
  Op op = Op::kEq;
  FieldValue value;  // number, string or bool

  // False when the event lacks the field or the kinds differ (a string never equals a number).
  [[nodiscard]] bool holds(const Event& e) const;
  bool operator==(const Predicate&) const = default;
};

struct SeriesSpec {
  std::string type;
  std::vector<Predicate> where;  // all must hold
  std::string group_by;          // field name; "" = one group ("")

  // Canonical text, stable across versions: the key under which the series is stored,
  // e.g. `support.ticket{action=="opened",severity<=2} by category`.
  [[nodiscard]] std::string key() const;
  [[nodiscard]] bool matches(const Event& e) const;
  // The group an event belongs to: the field's value as text; nullopt when grouped by a field
  // the event lacks (such events are not counted in a grouped series).
  [[nodiscard]] std::optional<std::string> group_of(const Event& e) const;
  bool operator==(const SeriesSpec&) const = default;
};

// The specs of a rule set, indexed by event type.
class SeriesSpecs {
 public:
  SeriesSpecs() = default;
  explicit SeriesSpecs(std::vector<SeriesSpec> specs);
  struct Entry {
    SeriesSpec spec;
    std::string key;
  };
  [[nodiscard]] const std::vector<Entry>* for_type(std::string_view type) const;
  [[nodiscard]] std::size_t size() const { return count_; }

 private:
  // Looked up by string_view for every applied event, without building a string.
  struct TypeHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, std::vector<Entry>, TypeHash, std::equal_to<>> by_type_;
  std::size_t count_ = 0;
};

// Text of a field value for group keys and messages: numbers in shortest form, JSON as is.
std::string field_value_text(const FieldValue& v);

}  // namespace kamwatch::model
