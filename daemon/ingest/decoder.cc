#include "ingest/decoder.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/time.h"
#include "ingest/catalog.h"
#include "proto/cloudevents.pb.h"
#include "proto/events.pb.h"

namespace kamwatch::ingest {

std::string_view reason_code(Reason r) {
  switch (r) {
    case Reason::kInvalidJson:
      return "invalid_json";
    case Reason::kNotAnObject:
      return "not_an_object";
    case Reason::kMissingAttribute:
      return "missing_attribute";
    case Reason::kBadSpecVersion:
      return "bad_specversion";
    case Reason::kBadAttribute:
      return "bad_attribute";
    case Reason::kBadTime:
      return "bad_time";
    case Reason::kDataNotObject:
      return "data_not_object";
    case Reason::kWrongFieldType:
      return "wrong_field_type";
    case Reason::kOutOfRange:
      return "out_of_range";
    case Reason::kStringTooLong:
      return "string_too_long";
    case Reason::kOversize:
      return "oversize";
    case Reason::kBadProtobuf:
      return "bad_protobuf";
    case Reason::kUnsupportedContent:
      return "unsupported_content_type";
    case Reason::kLate:
      return "late";
    case Reason::kPoison:
      return "poison";
    case Reason::kProcessingError:
      return "processing_error";
  }
  return "unknown";
}

namespace {

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;
namespace pb = google::protobuf;
using CloudEventPb = io::cloudevents::v1::CloudEvent;
using AttrValuePb = io::cloudevents::v1::CloudEvent_CloudEventAttributeValue;

constexpr std::string_view kSpecVersion = "1.0";
constexpr std::string_view kEventsPackage = "kamwatch.events.v1.";

using Result = std::optional<Rejection>;

Rejection reject(Reason reason, std::string message) { return {reason, std::move(message)}; }

// Where the attributes came from; only changes how messages name them.
enum class Encoding { kStructured, kBinary, kProtobuf };

// The attributes as found, before checking. Views point into the parser's string buffer, the
// message headers or the parsed protobuf, all of which outlive the check.
struct Attributes {
  std::optional<std::string_view> specversion, id, source, type, time, subject;
  std::optional<TimeMs> time_value;  // protobuf ce_timestamp: already a point in time
};

std::string missing(std::string_view name, Encoding enc) {
  std::string m = "missing required attribute '";
  m.append(name).append("'");
  if (enc == Encoding::kBinary) m.append(" (header 'ce_").append(name).append("')");
  if (enc == Encoding::kProtobuf && (name == "time" || name == "subject"))
    m += " (in the attributes map)";
  return m;
}

// Checks presence and non-emptiness of one required string attribute and copies it.
Result take_required(std::string_view name, const std::optional<std::string_view>& v, Encoding enc,
                     std::string& out) {
  if (!v) return reject(Reason::kMissingAttribute, missing(name, enc));
  if (v->empty()) {
    return reject(Reason::kMissingAttribute,
                  std::string("required attribute '").append(name).append("' is empty"));
  }
  out.assign(*v);
  return std::nullopt;
}

Result apply_attributes(const Attributes& a, Encoding enc, model::Event& out) {
  if (!a.specversion) return reject(Reason::kMissingAttribute, missing("specversion", enc));
  if (*a.specversion != kSpecVersion) {
    return reject(Reason::kBadSpecVersion,
                  "attribute 'specversion' must be \"1.0\", got " + quoted_excerpt(*a.specversion));
  }
  if (auto r = take_required("id", a.id, enc, out.id)) return r;
  if (auto r = take_required("source", a.source, enc, out.source)) return r;
  if (auto r = take_required("type", a.type, enc, out.type)) return r;
  if (a.time_value) {
    out.time = *a.time_value;
  } else {
    if (!a.time) return reject(Reason::kMissingAttribute, missing("time", enc));
    const std::optional<TimeMs> t = parse_rfc3339(*a.time);
    if (!t) {
      return reject(Reason::kBadTime,
                    "attribute 'time' is not an RFC 3339 timestamp: " + quoted_excerpt(*a.time));
    }
    out.time = *t;
  }
  return take_required("subject", a.subject, enc, out.subject);
}

std::string_view type_name(dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::BOOL:
      return "bool";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Case-insensitive ASCII comparison, for header names and media types.
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// "application/json; charset=utf-8" -> "application/json".
std::string_view media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.front() == ' ') content_type.remove_prefix(1);
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  return content_type;
}

bool is_json_media_type(std::string_view mt) {
  return mt.empty() || iequals(mt, "application/json") || iequals(mt, "text/json");
}

// Appends data fields to an Event, reusing the Field objects (and their string capacity) left
// in it by the previous decode. A repeated name overwrites: the last occurrence wins.
class FieldWriter {
 public:
  explicit FieldWriter(std::vector<model::Field>& fields) : fields_(fields) {}

  model::FieldValue& add(std::string_view name) {
    for (std::size_t i = 0; i < n_; ++i)
      if (fields_[i].name == name) return fields_[i].value;
    if (n_ == fields_.size()) fields_.emplace_back();
    model::Field& f = fields_[n_++];
    f.name.assign(name);
    return f.value;
  }
  void finish() { fields_.resize(n_); }

  static void set(model::FieldValue& v, model::FieldValue::Kind kind, double number = 0,
                  bool boolean = false, std::string_view text = {}) {
    v.kind = kind;
    v.number = number;
    v.boolean = boolean;
    v.text.assign(text);
  }

 private:
  std::vector<model::Field>& fields_;
  std::size_t n_ = 0;
};

// protobuf logs every bad input (e.g. invalid UTF-8 in a string field) to stderr in its own
// format, once per event. The rejection already says what is wrong, so keep those at debug,
// in our log format.
void protobuf_log(pb::LogLevel level, const char* file, int line, const std::string& message) {
  const auto lvl = level == pb::LOGLEVEL_FATAL ? log::Level::kError : log::Level::kDebug;
  if (log::enabled(lvl)) {
    log::write(lvl, "protobuf", {{"detail", message}, {"file", file}, {"line", line}});
  }
}

}  // namespace

struct Decoder::Impl {
  explicit Impl(const DecodeLimits& l) : limits(l) {
    // Referencing the generated descriptors links them in and registers them with the
    // generated pool, which the Any lookup below searches by name.
    (void)kamwatch::events::v1::SalesOrder::descriptor();
    static std::once_flag log_once;
    std::call_once(log_once, [] { pb::SetLogHandler(&protobuf_log); });
  }

  Result decode_structured(std::string_view json, model::Event& out);
  Result decode_binary(const RawMessage& msg, model::Event& out);
  Result decode_protobuf(std::string_view bytes, model::Event& out);

  // Parses text as one JSON document; root stays valid until the next parse.
  simdjson::error_code parse(std::string_view text, dom::element& root);
  // A kInvalidJson rejection for the last parse, naming where in the input it went wrong.
  Rejection json_error(simdjson::error_code err, std::string_view what);
  void read_fields(dom::object obj, FieldWriter& fields);
  // Data given as a whole JSON document: binary-mode value, protobuf text/binary data.
  Result read_data_document(std::string_view text, std::string_view what, model::Event& out);
  Result read_proto_data(const pb::Any& any, std::string_view type, model::Event& out);

  DecodeLimits limits;
  // DOM rather than On-Demand: the DOM parser picks the CPU's SIMD kernels at run time, while
  // On-Demand is compiled for the build's baseline (no -march), which measured ~2x slower.
  dom::parser parser;
  od::parser locator;           // only on errors: finds the byte position DOM does not report
  std::unique_ptr<char[]> buf;  // input copy with simdjson's padding
  std::size_t buf_capacity = 0;
  std::size_t buf_len = 0;
  CloudEventPb event_pb;  // reused: parsing clears it but keeps its allocations
  // Typed payload messages by full name, created on first use. A handful at most.
  std::vector<std::pair<std::string, std::unique_ptr<pb::Message>>> payloads;
};

simdjson::error_code Decoder::Impl::parse(std::string_view text, dom::element& root) {
  const std::size_t need = text.size() + simdjson::SIMDJSON_PADDING;
  if (need > buf_capacity) {
    buf_capacity = std::max(need, buf_capacity * 2);
    buf.reset(new char[buf_capacity]());  // zeroed: padding bytes are read, never used
  }
  if (!text.empty()) std::memcpy(buf.get(), text.data(), text.size());
  std::memset(buf.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  buf_len = text.size();
  return parser.parse(buf.get(), buf_len, /*realloc_if_needed=*/false).get(root);
}

namespace {

// Walks every value with On-Demand, which stops where the text goes wrong. Gives up (with
// DEPTH_ERROR) well before On-Demand's own depth limit, which it asserts rather than checks.
simdjson::error_code walk(od::value v, int depth = 0) {
  constexpr int kMaxDepth = 256;
  if (depth >= kMaxDepth) return simdjson::DEPTH_ERROR;
  od::json_type t;
  if (auto err = v.type().get(t)) return err;
  switch (t) {
    case od::json_type::object: {
      od::object o;
      if (auto err = v.get_object().get(o)) return err;
      for (auto member : o) {
        od::field f;
        if (auto err = std::move(member).get(f)) return err;
        std::string_view key;
        if (auto err = f.unescaped_key().get(key)) return err;
        if (auto err = walk(f.value(), depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      if (auto err = v.get_array().get(a)) return err;
      for (auto element : a) {
        od::value e;
        if (auto err = element.get(e)) return err;
        if (auto err = walk(e, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      return v.get_double().error();
    case od::json_type::string:
      return v.get_string().error();
    case od::json_type::boolean:
      return v.get_bool().error();
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = v.is_null().get(is_null)) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

}  // namespace

Rejection Decoder::Impl::json_error(simdjson::error_code err, std::string_view what) {
  const std::string_view text(buf.get(), buf_len);
  std::string m(what);
  if (err == simdjson::EMPTY) return reject(Reason::kInvalidJson, m + " is empty");

  // Locate the error: replay the text with On-Demand and see where it stops.
  const char* loc = nullptr;
  simdjson::error_code located_err = simdjson::SUCCESS;
  od::document doc;
  if (err != simdjson::DEPTH_ERROR &&
      locator.iterate(buf.get(), buf_len, buf_capacity).get(doc) == simdjson::SUCCESS) {
    od::value root;
    located_err = doc.get_value().get(root);
    if (located_err == simdjson::SUCCESS) located_err = walk(root);
    const char* p = nullptr;
    if (located_err != simdjson::DEPTH_ERROR &&
        doc.current_location().get(p) == simdjson::SUCCESS && p >= text.data() &&
        p < text.data() + text.size()) {
      loc = p;
    }
  }
  // Unclosed objects and strings have no position, and an error in the last token (no
  // structural character after it) is most likely a cut: report those at the end of input.
  // When On-Demand accepts everything (e.g. beyond DOM's depth limit) there is no position.
  const bool at_input_end =
      err == simdjson::UNCLOSED_STRING || err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT ||
      located_err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT ||
      (loc == nullptr && located_err != simdjson::SUCCESS) ||
      (loc != nullptr &&
       text.substr(static_cast<std::size_t>(loc - text.data())).find_first_of(",:]}") ==
           std::string_view::npos);
  if (at_input_end && err != simdjson::UTF8_ERROR) {
    std::size_t from = text.size() - std::min<std::size_t>(24, text.size());
    while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xC0) == 0x80) ++from;
    m += " is truncated or malformed at byte " + std::to_string(text.size()) +
         " (end of input, ending " + quoted_excerpt(text.substr(from)) + "): ";
  } else if (loc != nullptr) {
    const auto offset = static_cast<std::size_t>(loc - text.data());
    m += " is malformed at byte " + std::to_string(offset) + " (near " +
         quoted_excerpt(text.substr(offset)) + "): ";
  } else {
    m += " is malformed: ";
  }
  // On-Demand's error is the more specific for a bad number (DOM: "improper structure"); for
  // a misspelt literal it says "incorrect type" where DOM names the atom.
  const bool use_located = loc != nullptr && located_err == simdjson::NUMBER_ERROR;
  m += simdjson::error_message(use_located ? located_err : err);
  return reject(Reason::kInvalidJson, std::move(m));
}

void Decoder::Impl::read_fields(dom::object obj, FieldWriter& fields) {
  using Kind = model::FieldValue::Kind;
  for (const dom::key_value_pair kv : obj) {
    model::FieldValue& out = fields.add(kv.key);
    const dom::element v = kv.value;
    switch (v.type()) {
      case dom::element_type::DOUBLE:
        FieldWriter::set(out, Kind::kNumber, v.get_double().value_unsafe());
        break;
      case dom::element_type::INT64:
        FieldWriter::set(out, Kind::kNumber, static_cast<double>(v.get_int64().value_unsafe()));
        break;
      case dom::element_type::UINT64:
        FieldWriter::set(out, Kind::kNumber, static_cast<double>(v.get_uint64().value_unsafe()));
        break;
      case dom::element_type::STRING:
        FieldWriter::set(out, Kind::kString, 0, false, v.get_string().value_unsafe());
        break;
      case dom::element_type::BOOL:
        FieldWriter::set(out, Kind::kBool, 0, v.get_bool().value_unsafe());
        break;
      case dom::element_type::NULL_VALUE:
        FieldWriter::set(out, Kind::kNull);
        break;
      case dom::element_type::ARRAY:
      case dom::element_type::OBJECT:
        // Kept as (minified) JSON text: the tape has no positions to cut the original from.
        FieldWriter::set(out, Kind::kJson);
        out.text = simdjson::minify(v);
        break;
    }
  }
}

Result Decoder::Impl::decode_structured(std::string_view json, model::Event& out) {
  dom::element root;
  if (const auto err = parse(json, root)) return json_error(err, "JSON");
  if (root.type() != dom::element_type::OBJECT) {
    return reject(Reason::kNotAnObject,
                  std::string("event must be a JSON object, got ").append(type_name(root)));
  }

  Attributes a;
  FieldWriter fields(out.data);
  const dom::object obj = root.get_object().value_unsafe();  // a copy: the result is a temporary
  for (const dom::key_value_pair kv : obj) {
    const std::string_view key = kv.key;
    std::optional<std::string_view>* slot = nullptr;
    if (key == "specversion") {
      slot = &a.specversion;
    } else if (key == "id") {
      slot = &a.id;
    } else if (key == "source") {
      slot = &a.source;
    } else if (key == "type") {
      slot = &a.type;
    } else if (key == "time") {
      slot = &a.time;
    } else if (key == "subject") {
      slot = &a.subject;
    }
    if (slot != nullptr) {
      if (kv.value.is_string()) {
        *slot = kv.value.get_string().value_unsafe();
      } else if (kv.value.is_null()) {  // CloudEvents: a null attribute is an absent one
        slot->reset();
      } else {
        return reject(Reason::kBadAttribute, std::string("attribute '")
                                                 .append(key)
                                                 .append("' must be a string, got ")
                                                 .append(type_name(kv.value)));
      }
    } else if (key == "data") {
      if (kv.value.is_object()) {
        read_fields(kv.value.get_object().value_unsafe(), fields);
      } else if (!kv.value.is_null()) {
        return reject(Reason::kDataNotObject,
                      std::string("attribute 'data' must be a JSON object, got ")
                          .append(type_name(kv.value)));
      }
    } else if (key == "data_base64") {
      return reject(Reason::kDataNotObject,
                    "attribute 'data_base64' (binary data) is not supported: send 'data' as a "
                    "JSON object");
    }
    // Other attributes (datacontenttype, extensions) are not used.
  }
  fields.finish();
  if (auto r = apply_attributes(a, Encoding::kStructured, out)) return r;
  return validate(out, limits);
}

Result Decoder::Impl::read_data_document(std::string_view text, std::string_view what,
                                         model::Event& out) {
  FieldWriter fields(out.data);
  dom::element root;
  if (const auto err = parse(text, root)) return json_error(err, what);
  if (root.is_object()) {
    read_fields(root.get_object().value_unsafe(), fields);
  } else if (!root.is_null()) {
    return reject(Reason::kDataNotObject,
                  std::string(what).append(" must be a JSON object, got ").append(type_name(root)));
  }
  fields.finish();
  return std::nullopt;
}

Result Decoder::Impl::decode_binary(const RawMessage& msg, model::Event& out) {
  Attributes a;
  for (const Header& h : msg.headers) {
    if (h.key.size() < 4 || h.key.substr(0, 3) != "ce_") continue;
    const std::string_view name = h.key.substr(3);
    std::optional<std::string_view>* slot = nullptr;
    if (name == "specversion") {
      slot = &a.specversion;
    } else if (name == "id") {
      slot = &a.id;
    } else if (name == "source") {
      slot = &a.source;
    } else if (name == "type") {
      slot = &a.type;
    } else if (name == "time") {
      slot = &a.time;
    } else if (name == "subject") {
      slot = &a.subject;
    } else {
      continue;  // extension attributes: not used
    }
    if (!simdjson::validate_utf8(h.value.data(), h.value.size())) {
      return reject(Reason::kBadAttribute, std::string("header '")
                                               .append(h.key)
                                               .append("' is not valid UTF-8: ")
                                               .append(quoted_excerpt(h.value)));
    }
    *slot = h.value;
  }
  if (auto r = apply_attributes(a, Encoding::kBinary, out)) return r;
  if (trim_right(msg.value).empty()) {
    out.data.clear();
  } else if (auto r = read_data_document(msg.value, "message value (data)", out)) {
    return r;
  }
  return validate(out, limits);
}

namespace {

// Reads a textual protobuf attribute (ce_string, ce_uri, ce_uri_ref).
Result proto_text_attribute(const AttrValuePb& v, std::string_view name,
                            std::optional<std::string_view>& out) {
  switch (v.attr_case()) {
    case AttrValuePb::kCeString:
      out = v.ce_string();
      return std::nullopt;
    case AttrValuePb::kCeUri:
      out = v.ce_uri();
      return std::nullopt;
    case AttrValuePb::kCeUriRef:
      out = v.ce_uri_ref();
      return std::nullopt;
    case AttrValuePb::ATTR_NOT_SET:
      return std::nullopt;
    default:
      return reject(Reason::kBadAttribute,
                    std::string("attribute '").append(name).append("' must be a ce_string"));
  }
}

void append_scalar_json(std::string& out, const pb::Message& m, const pb::Reflection& r,
                        const pb::FieldDescriptor& fd, int index) {
  using C = pb::FieldDescriptor::CppType;
  const bool rep = fd.is_repeated();
  switch (fd.cpp_type()) {
    case C::CPPTYPE_DOUBLE:
      append_json_number(out, rep ? r.GetRepeatedDouble(m, &fd, index) : r.GetDouble(m, &fd));
      break;
    case C::CPPTYPE_FLOAT:
      append_json_number(out, rep ? r.GetRepeatedFloat(m, &fd, index) : r.GetFloat(m, &fd));
      break;
    case C::CPPTYPE_INT32:
      append_json_number(out, rep ? r.GetRepeatedInt32(m, &fd, index) : r.GetInt32(m, &fd));
      break;
    case C::CPPTYPE_INT64:
      append_json_number(
          out, static_cast<double>(rep ? r.GetRepeatedInt64(m, &fd, index) : r.GetInt64(m, &fd)));
      break;
    case C::CPPTYPE_UINT32:
      append_json_number(out, rep ? r.GetRepeatedUInt32(m, &fd, index) : r.GetUInt32(m, &fd));
      break;
    case C::CPPTYPE_UINT64:
      append_json_number(
          out, static_cast<double>(rep ? r.GetRepeatedUInt64(m, &fd, index) : r.GetUInt64(m, &fd)));
      break;
    case C::CPPTYPE_BOOL:
      out += (rep ? r.GetRepeatedBool(m, &fd, index) : r.GetBool(m, &fd)) ? "true" : "false";
      break;
    case C::CPPTYPE_ENUM:
      append_json_string(out, (rep ? r.GetRepeatedEnum(m, &fd, index) : r.GetEnum(m, &fd))->name());
      break;
    case C::CPPTYPE_STRING:
      append_json_string(out, rep ? r.GetRepeatedString(m, &fd, index) : r.GetString(m, &fd));
      break;
    case C::CPPTYPE_MESSAGE: {
      std::string json;
      pb::util::JsonPrintOptions opts;
      opts.preserve_proto_field_names = true;
      const pb::Message& sub = rep ? r.GetRepeatedMessage(m, &fd, index) : r.GetMessage(m, &fd);
      if (pb::util::MessageToJsonString(sub, &json, opts).ok()) {
        out += json;
      } else {
        out += "null";
      }
      break;
    }
  }
}

// Converts a typed payload to fields, like the JSON form of the same data would decode.
// Unset optional (and message) fields are omitted; proto3 plain scalars are always present.
void proto_fields(const pb::Message& m, FieldWriter& fields) {
  using C = pb::FieldDescriptor::CppType;
  using Kind = model::FieldValue::Kind;
  const pb::Descriptor& d = *m.GetDescriptor();
  const pb::Reflection& r = *m.GetReflection();
  std::string scratch;
  for (int i = 0; i < d.field_count(); ++i) {
    const pb::FieldDescriptor& fd = *d.field(i);
    if (fd.is_repeated()) {
      const int n = r.FieldSize(m, &fd);
      if (n == 0) continue;
      scratch.assign("[");
      for (int j = 0; j < n; ++j) {
        if (j > 0) scratch += ',';
        append_scalar_json(scratch, m, r, fd, j);
      }
      scratch += ']';
      FieldWriter::set(fields.add(fd.name()), Kind::kJson, 0, false, scratch);
      continue;
    }
    if (fd.has_presence() && !r.HasField(m, &fd)) continue;
    model::FieldValue& v = fields.add(fd.name());
    switch (fd.cpp_type()) {
      case C::CPPTYPE_DOUBLE:
        FieldWriter::set(v, Kind::kNumber, r.GetDouble(m, &fd));
        break;
      case C::CPPTYPE_FLOAT:
        FieldWriter::set(v, Kind::kNumber, r.GetFloat(m, &fd));
        break;
      case C::CPPTYPE_INT32:
        FieldWriter::set(v, Kind::kNumber, r.GetInt32(m, &fd));
        break;
      case C::CPPTYPE_INT64:
        FieldWriter::set(v, Kind::kNumber, static_cast<double>(r.GetInt64(m, &fd)));
        break;
      case C::CPPTYPE_UINT32:
        FieldWriter::set(v, Kind::kNumber, r.GetUInt32(m, &fd));
        break;
      case C::CPPTYPE_UINT64:
        FieldWriter::set(v, Kind::kNumber, static_cast<double>(r.GetUInt64(m, &fd)));
        break;
      case C::CPPTYPE_BOOL:
        FieldWriter::set(v, Kind::kBool, 0, r.GetBool(m, &fd));
        break;
      case C::CPPTYPE_ENUM:
        FieldWriter::set(v, Kind::kString, 0, false, r.GetEnum(m, &fd)->name());
        break;
      case C::CPPTYPE_STRING:
        FieldWriter::set(v, Kind::kString, 0, false, r.GetStringReference(m, &fd, &scratch));
        break;
      case C::CPPTYPE_MESSAGE:
        scratch.clear();
        append_scalar_json(scratch, m, r, fd, 0);
        FieldWriter::set(v, Kind::kJson, 0, false, scratch);
        break;
    }
  }
}

}  // namespace

Result Decoder::Impl::read_proto_data(const pb::Any& any, std::string_view type,
                                      model::Event& out) {
  const std::string_view url = any.type_url();
  const std::string_view full_name = url.substr(url.rfind('/') + 1);  // npos + 1 == 0
  pb::Message* payload = nullptr;
  for (auto& [name, msg] : payloads) {
    if (name == full_name) {
      payload = msg.get();
      break;
    }
  }
  if (payload == nullptr && full_name.substr(0, kEventsPackage.size()) == kEventsPackage) {
    if (const pb::Descriptor* d =
            pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(full_name))) {
      if (const pb::Message* proto = pb::MessageFactory::generated_factory()->GetPrototype(d)) {
        payloads.emplace_back(std::string(full_name), proto->New());
        payload = payloads.back().second.get();
      }
    }
  }
  if (payload == nullptr) {
    return reject(Reason::kBadProtobuf, "proto_data type " + quoted_excerpt(url) +
                                            " is not a kamwatch.events.v1 message");
  }
  if (const EventTypeSpec* spec = find_event_type(type);
      spec != nullptr && payload->GetDescriptor()->name() != spec->proto_message) {
    return reject(Reason::kBadProtobuf, std::string("proto_data is ")
                                            .append(full_name)
                                            .append(" but type '")
                                            .append(type)
                                            .append("' carries ")
                                            .append(kEventsPackage)
                                            .append(spec->proto_message));
  }
  if (!payload->ParseFromString(any.value())) {
    return reject(Reason::kBadProtobuf,
                  std::string("proto_data is not a valid ").append(full_name).append(" message"));
  }
  FieldWriter fields(out.data);
  proto_fields(*payload, fields);
  fields.finish();
  return std::nullopt;
}

Result Decoder::Impl::decode_protobuf(std::string_view bytes, model::Event& out) {
  if (!event_pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return reject(Reason::kBadProtobuf, "message value (" + std::to_string(bytes.size()) +
                                            " bytes) is not a valid io.cloudevents.v1.CloudEvent");
  }
  Attributes a;
  const auto present = [](const std::string& s) -> std::optional<std::string_view> {
    return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
  };
  a.specversion = present(event_pb.spec_version());
  a.id = present(event_pb.id());
  a.source = present(event_pb.source());
  a.type = present(event_pb.type());
  const auto& attrs = event_pb.attributes();
  if (const auto it = attrs.find("time"); it != attrs.end()) {
    const AttrValuePb& v = it->second;
    if (v.attr_case() == AttrValuePb::kCeTimestamp) {
      // The range google.protobuf.Timestamp allows: years 0001..9999.
      const std::int64_t s = v.ce_timestamp().seconds();
      const std::int32_t ns = v.ce_timestamp().nanos();
      if (s < -62135596800 || s > 253402300799 || ns < 0 || ns > 999999999) {
        return reject(Reason::kBadTime, "attribute 'time' is not a valid timestamp: seconds=" +
                                            std::to_string(s) + " nanos=" + std::to_string(ns));
      }
      a.time_value = s * kSecondMs + ns / 1000000;
    } else if (auto r = proto_text_attribute(v, "time", a.time)) {
      r->message += " or ce_timestamp";
      return r;
    }
  }
  if (const auto it = attrs.find("subject"); it != attrs.end()) {
    if (auto r = proto_text_attribute(it->second, "subject", a.subject)) return r;
  }
  if (auto r = apply_attributes(a, Encoding::kProtobuf, out)) return r;

  switch (event_pb.data_case()) {
    case CloudEventPb::kTextData:
      if (auto r = read_data_document(event_pb.text_data(), "text_data", out)) return r;
      break;
    case CloudEventPb::kBinaryData:
      if (auto r = read_data_document(event_pb.binary_data(), "binary_data", out)) return r;
      break;
    case CloudEventPb::kProtoData:
      if (auto r = read_proto_data(event_pb.proto_data(), out.type, out)) return r;
      break;
    case CloudEventPb::DATA_NOT_SET:
      out.data.clear();
      break;
  }
  return validate(out, limits);
}

Decoder::Decoder(DecodeLimits limits) : impl_(std::make_unique<Impl>(limits)), limits_(limits) {}
Decoder::~Decoder() = default;

namespace {

Rejection oversize(std::size_t size, std::size_t limit) {
  return reject(Reason::kOversize, "message is " + std::to_string(size) + " bytes, over the " +
                                       std::to_string(limit) + "-byte limit");
}

Rejection internal_error(Reason reason, const char* what) {
  return reject(reason, std::string("decoder failed unexpectedly: ") + what);
}

}  // namespace

std::optional<Rejection> Decoder::decode_json(std::string_view json, model::Event& out) {
  if (json.size() > limits_.max_message_bytes) {
    return oversize(json.size(), limits_.max_message_bytes);
  }
  try {
    return impl_->decode_structured(json, out);
  } catch (const std::exception& e) {  // e.g. bad_alloc: reject the event, keep the thread
    return internal_error(Reason::kInvalidJson, e.what());
  } catch (...) {
    return internal_error(Reason::kInvalidJson, "unknown exception");
  }
}

std::optional<Rejection> Decoder::decode(const RawMessage& msg, model::Event& out) {
  if (msg.value.size() > limits_.max_message_bytes) {
    return oversize(msg.value.size(), limits_.max_message_bytes);
  }
  std::optional<std::string_view> content_type;
  bool binary = false;
  for (const Header& h : msg.headers) {
    if (iequals(h.key, "content-type")) {
      content_type = h.value;
    } else if (h.key == "ce_specversion") {
      binary = true;
    }
  }
  const std::string_view mt = content_type ? media_type(*content_type) : std::string_view();
  Reason failure = Reason::kInvalidJson;
  try {
    if (iequals(mt, "application/cloudevents+protobuf")) {
      failure = Reason::kBadProtobuf;
      return impl_->decode_protobuf(msg.value, out);
    }
    if (iequals(mt, "application/cloudevents+json")) {
      return impl_->decode_structured(msg.value, out);
    }
    // Binary mode: the content-type, if any, describes the data, which must be JSON.
    if (binary) {
      if (!is_json_media_type(mt)) {
        return reject(Reason::kUnsupportedContent, "binary-mode data with content-type " +
                                                       quoted_excerpt(*content_type) +
                                                       " is not supported (JSON only)");
      }
      return impl_->decode_binary(msg, out);
    }
    if (is_json_media_type(mt)) return impl_->decode_structured(msg.value, out);
    return reject(Reason::kUnsupportedContent,
                  "content-type " + quoted_excerpt(*content_type) +
                      " is not supported (application/cloudevents+json, "
                      "application/cloudevents+protobuf or binary mode with JSON data)");
  } catch (const std::exception& e) {  // protobuf or allocation failure: reject, keep going
    return internal_error(failure, e.what());
  } catch (...) {
    return internal_error(failure, "unknown exception");
  }
}

}  // namespace kamwatch::ingest
