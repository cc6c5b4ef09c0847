#include "ingest/json_object.h"

#include <simdjson.h>

namespace kamwatch::ingest {

Result<std::map<std::string, model::FieldValue>> parse_json_object(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err)
    return Error{"invalid_json", simdjson::error_message(err)};
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return Error{"not_an_object", "expected a JSON object"};
  std::map<std::string, model::FieldValue> out;
  for (auto field : obj) {
    const std::string key(field.key);
    const simdjson::dom::element v = field.value;
    switch (v.type()) {
      case simdjson::dom::element_type::DOUBLE:
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64: {
        double d = 0;
        if (v.get_double().get(d) != simdjson::SUCCESS) return Error{"invalid_json", "bad number"};
        out[key] = model::FieldValue::of_number(d);
        break;
      }
      case simdjson::dom::element_type::STRING:
        out[key] = model::FieldValue::of_string(std::string(v.get_string().value_unsafe()));
        break;
      case simdjson::dom::element_type::BOOL:
        out[key] = model::FieldValue::of_bool(v.get_bool().value_unsafe());
        break;
      case simdjson::dom::element_type::NULL_VALUE:
        out[key] = model::FieldValue::null();
        break;
      default:
        out[key] = model::FieldValue::of_json(simdjson::minify(v));
        break;
    }
  }
  return out;
}

}  // namespace kamwatch::ingest
