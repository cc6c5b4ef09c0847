#include "model/series_spec.h"

#include "core/json_writer.h"

namespace kamwatch::model {
namespace {

constexpr const char* op_text(Predicate::Op op) {
  switch (op) {
    case Predicate::Op::kEq:
      return "==";
    case Predicate::Op::kNe:
      return "!=";
    case Predicate::Op::kLt:
      return "<";
    case Predicate::Op::kLe:
      return "<=";
    case Predicate::Op::kGt:
      return ">";
    case Predicate::Op::kGe:
      return ">=";
  }
  return "?";
}

template <typename T>
bool compare(const T& a, Predicate::Op op, const T& b) {
  switch (op) {
    case Predicate::Op::kEq:
      return a == b;
    case Predicate::Op::kNe:
      return a != b;
    case Predicate::Op::kLt:
      return a < b;
    case Predicate::Op::kLe:
      return a <= b;
    case Predicate::Op::kGt:
      return a > b;
    case Predicate::Op::kGe:
      return a >= b;
  }
  return false;
}

}  // namespace

std::string field_value_text(const FieldValue& v) {
  switch (v.kind) {
    case FieldValue::Kind::kNull:
      return "null";
    case FieldValue::Kind::kNumber: {
      std::string s;
      append_json_number(s, v.number);
      return s;
    }
    case FieldValue::Kind::kBool:
      return v.boolean ? "true" : "false";
    case FieldValue::Kind::kString:
    case FieldValue::Kind::kJson:
      return v.text;
  }
  return {};
}

bool Predicate::holds(const Event& e) const {
  const FieldValue* v = e.find(field);
  if (!v) return op == Op::kNe;  // a missing field is "not equal" to anything
  if (v->kind != value.kind) return op == Op::kNe;
  switch (value.kind) {
    case FieldValue::Kind::kNumber:
      return compare(v->number, op, value.number);
    case FieldValue::Kind::kString:
      return compare(v->text, op, value.text);
    case FieldValue::Kind::kBool:
      return compare(v->boolean, op, value.boolean);
    default:
      return false;
  }
}

std::string SeriesSpec::key() const {
  std::string k = type;
  if (!where.empty()) {
    k += '{';
    for (std::size_t i = 0; i < where.size(); ++i) {
      if (i) k += ',';
      k += where[i].field;
      k += op_text(where[i].op);
      if (where[i].value.is_string()) {
        append_json_string(k, where[i].value.text);
      } else {
        k += field_value_text(where[i].value);
      }
    }
    k += '}';
  }
  if (!group_by.empty()) k += " by " + group_by;
  return k;
}

bool SeriesSpec::matches(const Event& e) const {
  if (e.type != type) return false;
  for (const Predicate& p : where)
    if (!p.holds(e)) return false;
  return true;
}

std::optional<std::string> SeriesSpec::group_of(const Event& e) const {
  if (group_by.empty()) return std::string();
  const FieldValue* v = e.find(group_by);
  if (!v || v->kind == FieldValue::Kind::kNull) return std::nullopt;
  return field_value_text(*v);
}

SeriesSpecs::SeriesSpecs(std::vector<SeriesSpec> specs) {
  for (SeriesSpec& s : specs) {
    auto& list = by_type_[s.type];
    std::string key = s.key();
    bool dup = false;
    for (const Entry& e : list) dup |= e.key == key;
    if (dup) continue;
    list.push_back({std::move(s), std::move(key)});
    ++count_;
  }
}

const std::vector<SeriesSpecs::Entry>* SeriesSpecs::for_type(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? nullptr : &it->second;
}

}  // namespace kamwatch::model
