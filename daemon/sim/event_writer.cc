#include "sim/event_writer.h"

#include <charconv>
#include <cmath>

#include "core/json_writer.h"
#include "sim/calendar.h"
#include "sim/random.h"

namespace kamwatch::sim {
namespace {

constexpr std::string_view kSourceNames[kSourceCount] = {"crm",     "erp",       "billing",
                                                         "zendesk", "analytics", "survey"};

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

std::string_view source_name(Source s) { return kSourceNames[static_cast<int>(s)]; }

EventWriter::EventWriter(std::uint64_t seed) {
  for (int i = 0; i < kSourceCount; ++i) salt_[i] = mix64(seed * 31 + static_cast<unsigned>(i));
  out_.reserve(512);
}

void EventWriter::begin(Source source, std::string_view type, TimeMs time,
                        std::string_view subject) {
  const int s = static_cast<int>(source);
  // counter + salt is injective in the counter and mix64 is a bijection: ids never repeat
  // within a source.
  const std::uint64_t id = mix64(next_[s]++ + salt_[s]);
  static constexpr char kHex[] = "0123456789abcdef";
  out_.clear();
  out_ += R"({"specversion":"1.0","id":")";
  out_ += kSourceNames[s];
  out_.push_back('-');
  for (int shift = 60; shift >= 0; shift -= 4) out_.push_back(kHex[(id >> shift) & 0xF]);
  out_ += R"(","source":")";
  out_ += kSourceNames[s];
  out_ += R"(","type":)";
  append_json_string(out_, type);
  out_ += R"(,"time":")";
  append_rfc3339(out_, time);
  out_ += R"(","subject":)";
  append_json_string(out_, subject);
  out_ += R"(,"data":{)";
  first_field_ = true;
}

void EventWriter::key(std::string_view k) {
  if (!first_field_) out_.push_back(',');
  first_field_ = false;
  append_json_string(out_, k);
  out_.push_back(':');
}

void EventWriter::str(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(out_, value);
}

void EventWriter::integer(std::string_view k, std::int64_t value) {
  key(k);
  append_int(out_, value);
}

void EventWriter::decimal(std::string_view k, double value, int digits) {
  key(k);
  std::int64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::int64_t scaled = std::llround(value * static_cast<double>(scale));
  if (scaled < 0) {
    out_.push_back('-');
    scaled = -scaled;
  }
  append_int(out_, scaled / scale);
  std::int64_t frac = scaled % scale;
  if (frac == 0) return;
  int width = digits;
  while (frac % 10 == 0) {
    frac /= 10;
    --width;
  }
  char buf[24];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out_.push_back('.');
  out_.append(buf, static_cast<std::size_t>(width));
}

void EventWriter::boolean(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
}

std::string EventWriter::finish() {
  out_ += "}}";
  return out_;
}

}  // namespace kamwatch::sim
