#pragma once
// Builds one structured CloudEvents 1.0 JSON line per event, in the catalog's format, and
// hands out event ids that are unique per source (and differ between seeds, so portfolios
// simulated with different seeds never look like duplicates of each other).
// Thread-safety: one writer per simulation (not shared between threads).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/time.h"

namespace kamwatch::sim {

// The producing systems, as the CloudEvents `source` attribute.
enum class Source : std::uint8_t { kCrm, kErp, kBilling, kZendesk, kAnalytics, kSurvey };
inline constexpr int kSourceCount = 6;
[[nodiscard]] std::string_view source_name(Source s);

class EventWriter {
 public:
  explicit EventWriter(std::uint64_t seed);

  // Starts an event: writes the attributes and opens `data`. Add fields, then finish().
  void begin(Source source, std::string_view type, TimeMs time, std::string_view subject);
  void str(std::string_view key, std::string_view value);
  void integer(std::string_view key, std::int64_t value);
  // A number rounded to `digits` decimals, written without trailing zeros.
  void decimal(std::string_view key, double value, int digits);
  void boolean(std::string_view key, bool value);
  // Closes the event and returns the line (without a newline).
  [[nodiscard]] std::string finish();

 private:
  void key(std::string_view k);
  std::string out_;
  bool first_field_ = true;
  std::array<std::uint64_t, kSourceCount> next_{};
  std::array<std::uint64_t, kSourceCount> salt_{};
};

}  // namespace kamwatch::sim
