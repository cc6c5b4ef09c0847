#pragma once
// Text for HTML and SVG output: escaping (with UTF-8 repair, so the page is always valid
// UTF-8) and the number and date formats the report uses.
// Thread-safety: pure functions.
#include <string>
#include <string_view>

#include "core/time.h"

namespace kamwatch::report {

// Appends s with & < > " ' escaped, for text and (double-quoted) attribute values alike.
// Invalid UTF-8 becomes U+FFFD; control characters other than tab, LF and CR are dropped.
void append_escaped(std::string& out, std::string_view s);
[[nodiscard]] std::string escape(std::string_view s);

// Fixed decimals with thousands separators: 12345.678, 1 -> "12,345.7". NaN/inf -> "n/a".
[[nodiscard]] std::string format_number(double v, int decimals = 0);
// A fraction as a percentage: 0.123 -> "12.3%" (decimals = 1). NaN -> "n/a".
[[nodiscard]] std::string format_percent(double fraction, int decimals = 0);
// Signed: "+1.5", "-2.0", "0.0" (for changes). NaN -> "n/a".
[[nodiscard]] std::string format_signed(double v, int decimals = 1);
// "2026-03-02" (UTC); 0 -> "never".
[[nodiscard]] std::string format_date(TimeMs t);
// "2026-03-02 09:15 UTC"; 0 -> "never".
[[nodiscard]] std::string format_datetime(TimeMs t);
// Compact number for SVG coordinates: at most 2 decimals, no trailing zeros ("12.5", "3").
[[nodiscard]] std::string format_coord(double v);

}  // namespace kamwatch::report
