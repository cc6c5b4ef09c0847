#include "report/html.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace kamwatch::report {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void append_escaped(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    const char c = s[i++];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += c;
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7F) out += c;
        break;
    }
  }
}

std::string escape(std::string_view s) {
  std::string out;
  append_escaped(out, s);
  return out;
}

std::string format_number(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  if (decimals < 0) decimals = 0;
  if (decimals > 6) decimals = 6;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v));
  std::string digits(buf);
  const std::size_t dot = digits.find('.');
  std::string int_part = digits.substr(0, dot);
  const std::string frac = dot == std::string::npos ? std::string() : digits.substr(dot);
  std::string grouped;
  for (std::size_t k = 0; k < int_part.size(); ++k) {
    if (k && (int_part.size() - k) % 3 == 0) grouped += ',';
    grouped += int_part[k];
  }
  // No "-0": a negative value that rounds to zero is shown as zero.
  bool zero = true;
  for (char c : digits) zero &= c == '0' || c == '.';
  return (v < 0 && !zero ? "-" : "") + grouped + frac;
}

std::string format_percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return "n/a";
  return format_number(fraction * 100, decimals) + "%";
}

std::string format_signed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  std::string s = format_number(v, decimals);
  if (s[0] != '-') {
    bool zero = true;
    for (char c : s) zero &= c == '0' || c == '.' || c == ',';
    if (!zero) s.insert(s.begin(), '+');
  }
  return s;
}

std::string format_date(TimeMs t) {
  if (t == 0) return "never";
  return format_rfc3339(floor_to(t, kDayMs)).substr(0, 10);
}

std::string format_datetime(TimeMs t) {
  if (t == 0) return "never";
  const std::string s = format_rfc3339(floor_to(t, kMinuteMs));
  return s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
}

std::string format_coord(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

}  // namespace kamwatch::report
