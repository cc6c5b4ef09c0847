#include "ingest/catalog.h"

#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>

#include "core/time.h"

namespace kamwatch::ingest {
namespace {

using K = FieldKind;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Shorthands, so that each type's field list reads like the catalog table.
constexpr FieldSpec str(std::string_view n) { return {n, K::kString}; }
constexpr FieldSpec date(std::string_view n) { return {n, K::kDate}; }
constexpr FieldSpec boolean(std::string_view n) { return {n, K::kBool}; }
constexpr FieldSpec num(std::string_view n) { return {n, K::kNumber}; }
constexpr FieldSpec non_negative(std::string_view n) { return {n, K::kNumber, 0, kInf}; }
constexpr FieldSpec count(std::string_view n) { return {n, K::kNumber, 0, kInf, true}; }
constexpr FieldSpec integer(std::string_view n, double lo, double hi) {
  return {n, K::kNumber, lo, hi, true};
}

constexpr std::array kAccountProfile{str("name"),
                                     str("kam"),
                                     str("tier"),
                                     str("industry"),
                                     str("region"),
                                     str("parent"),
                                     non_negative("contract_value"),
                                     date("renewal_date")};
constexpr std::array kSalesOrder{non_negative("amount"), str("currency"), str("category"),
                                 str("product")};
constexpr std::array kSalesInvoice{num("amount"), str("status"), non_negative("days_late")};
constexpr std::array kSalesContract{str("action"), non_negative("arr"), date("renewal_date")};
constexpr std::array kSalesOpportunity{str("stage"), non_negative("amount"), str("category"),
                                       str("competitor")};
constexpr std::array kSalesCompetitorActivity{str("competitor"), str("category"),
                                              non_negative("amount"), str("signal")};
constexpr std::array kSupportTicket{str("ticket_id"), str("action"), integer("severity", 1, 4),
                                    str("category"), non_negative("resolution_hours")};
constexpr std::array kSupportSlaBreach{str("ticket_id"), str("sla"), non_negative("overdue_hours")};
constexpr std::array kSupportCsat{integer("score", 1, 5)};
constexpr std::array kSurveyNps{integer("score", 0, 10), str("role")};
constexpr std::array kUsageActivity{count("active_users"), count("sessions")};
constexpr std::array kUsageFeature{str("feature"), count("count")};
constexpr std::array kUsageSeats{count("licensed"), count("used")};
constexpr std::array kRelationshipMeeting{str("kind"), str("level")};
constexpr std::array kRelationshipContactChange{str("role"), str("change"), boolean("champion")};

constexpr std::array<EventTypeSpec, 15> kTypes{{
    {"account.profile", "AccountProfile", kAccountProfile},
    {"sales.order", "SalesOrder", kSalesOrder},
    {"sales.invoice", "SalesInvoice", kSalesInvoice},
    {"sales.contract", "SalesContract", kSalesContract},
    {"sales.opportunity", "SalesOpportunity", kSalesOpportunity},
    {"sales.competitor_activity", "SalesCompetitorActivity", kSalesCompetitorActivity},
    {"support.ticket", "SupportTicket", kSupportTicket},
    {"support.sla_breach", "SupportSlaBreach", kSupportSlaBreach},
    {"support.csat", "SupportCsat", kSupportCsat},
    {"survey.nps", "SurveyNps", kSurveyNps},
    {"usage.activity", "UsageActivity", kUsageActivity},
    {"usage.feature", "UsageFeature", kUsageFeature},
    {"usage.seats", "UsageSeats", kUsageSeats},
    {"relationship.meeting", "RelationshipMeeting", kRelationshipMeeting},
    {"relationship.contact_change", "RelationshipContactChange", kRelationshipContactChange},
}};

void append_number(std::string& out, double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec == std::errc()) out.append(buf, end);
}

std::string_view value_kind_name(const model::FieldValue& v) {
  switch (v.kind) {
    case model::FieldValue::Kind::kNull:
      return "null";
    case model::FieldValue::Kind::kNumber:
      return "number";
    case model::FieldValue::Kind::kString:
      return "string";
    case model::FieldValue::Kind::kBool:
      return "bool";
    case model::FieldValue::Kind::kJson:
      return !v.text.empty() && v.text.front() == '[' ? "array" : "object";
  }
  return "unknown";
}

// "field 'amount' of sales.order "
std::string field_prefix(std::string_view field, std::string_view type) {
  std::string m;
  m.reserve(32 + field.size() + type.size());
  m.append("field '").append(field).append("' of ").append(type).append(" ");
  return m;
}

Rejection wrong_type(const FieldSpec& spec, const model::Field& f, std::string_view type) {
  std::string m = field_prefix(f.name, type);
  if (spec.kind == K::kDate) {
    m += "must be a date YYYY-MM-DD, got ";
  } else {
    m.append("must be a ").append(field_kind_name(spec.kind)).append(", got ");
  }
  m += value_kind_name(f.value);
  switch (f.value.kind) {
    case model::FieldValue::Kind::kNumber:
      m += ' ';
      append_number(m, f.value.number);
      break;
    case model::FieldValue::Kind::kBool:
      m += f.value.boolean ? " true" : " false";
      break;
    case model::FieldValue::Kind::kString:
    case model::FieldValue::Kind::kJson:
      m += ' ';
      m += quoted_excerpt(f.value.text);
      break;
    case model::FieldValue::Kind::kNull:
      break;
  }
  return {Reason::kWrongFieldType, std::move(m)};
}

Rejection out_of_range(const FieldSpec& spec, const model::Field& f, std::string_view type) {
  std::string m = field_prefix(f.name, type);
  m += spec.integer ? "must be an integer" : "must be a number";
  if (std::isfinite(spec.min) && std::isfinite(spec.max)) {
    m += " from ";
    append_number(m, spec.min);
    m += " to ";
    append_number(m, spec.max);
  } else if (std::isfinite(spec.min)) {
    m += " >= ";
    append_number(m, spec.min);
  } else if (std::isfinite(spec.max)) {
    m += " <= ";
    append_number(m, spec.max);
  } else {
    m = field_prefix(f.name, type) + "must be a finite number";
  }
  m += ", got ";
  append_number(m, f.value.number);
  return {Reason::kOutOfRange, std::move(m)};
}

std::optional<Rejection> check_field(const FieldSpec& spec, const model::Field& f,
                                     std::string_view type) {
  const model::FieldValue& v = f.value;
  if (v.kind == model::FieldValue::Kind::kNull) return std::nullopt;
  switch (spec.kind) {
    case K::kNumber: {
      if (v.kind != model::FieldValue::Kind::kNumber) return wrong_type(spec, f, type);
      const double x = v.number;
      // Written so that NaN fails every comparison and is rejected.
      const bool in_range = x >= spec.min && x <= spec.max && std::isfinite(x);
      if (!in_range || (spec.integer && std::trunc(x) != x)) return out_of_range(spec, f, type);
      return std::nullopt;
    }
    case K::kString:
      if (v.kind != model::FieldValue::Kind::kString) return wrong_type(spec, f, type);
      return std::nullopt;
    case K::kBool:
      if (v.kind != model::FieldValue::Kind::kBool) return wrong_type(spec, f, type);
      return std::nullopt;
    case K::kDate:
      if (v.kind != model::FieldValue::Kind::kString || !parse_date(v.text))
        return wrong_type(spec, f, type);
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Rejection> check_length(std::string_view what, std::string_view name,
                                      std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::nullopt;
  std::string m;
  m.append(what).append(" '").append(name).append("' is ");
  m += std::to_string(text.size());
  m += " bytes, over the ";
  m += std::to_string(limit);
  m += "-byte limit: ";
  m += quoted_excerpt(text);
  return Rejection{Reason::kStringTooLong, std::move(m)};
}

}  // namespace

std::string_view field_kind_name(FieldKind kind) {
  switch (kind) {
    case K::kNumber:
      return "number";
    case K::kString:
      return "string";
    case K::kBool:
      return "bool";
    case K::kDate:
      return "date";
  }
  return "unknown";
}

const FieldSpec* EventTypeSpec::find_field(std::string_view name) const {
  for (const FieldSpec& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

std::span<const EventTypeSpec> known_event_types() { return kTypes; }

const EventTypeSpec* find_event_type(std::string_view type) {
  for (const EventTypeSpec& t : kTypes)
    if (t.type == type) return &t;
  return nullptr;
}

std::string quoted_excerpt(std::string_view text) {
  constexpr std::size_t kMax = 60;
  std::string_view shown = text;
  if (shown.size() > kMax) {
    std::size_t cut = kMax;
    // Back up over UTF-8 continuation bytes so the excerpt stays valid UTF-8.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    shown = text.substr(0, cut);
  }
  std::string out;
  out.reserve(shown.size() + 8);
  out += '"';
  for (const char c : shown) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
  if (shown.size() < text.size()) out += "...";
  return out;
}

std::optional<Rejection> validate(const model::Event& event, const DecodeLimits& limits) {
  const std::size_t limit = limits.max_string_bytes;
  for (const auto& [name, value] : {std::pair<std::string_view, std::string_view>{"id", event.id},
                                    {"source", event.source},
                                    {"type", event.type},
                                    {"subject", event.subject}}) {
    if (auto r = check_length("attribute", name, value, limit)) return r;
  }
  const EventTypeSpec* spec = find_event_type(event.type);
  for (const model::Field& f : event.data) {
    if (f.value.kind == model::FieldValue::Kind::kString) {
      if (auto r = check_length("field", f.name, f.value.text, limit)) return r;
    }
    if (spec == nullptr) continue;
    if (const FieldSpec* fs = spec->find_field(f.name)) {
      if (auto r = check_field(*fs, f, spec->type)) return r;
    }
  }
  return std::nullopt;
}

}  // namespace kamwatch::ingest
