#pragma once
// Helpers for the report tests: times, counting and cutting a page into its sections.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/time.h"

namespace kamwatch::report {

// An RFC 3339 time that must parse.
inline TimeMs at(const char* s) { return *parse_rfc3339(s); }

// How often `what` occurs in s (overlapping occurrences too).
inline std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// The text from <section id="id"> up to its </section> (empty when there is no such section).
inline std::string section(const std::string& page, std::string_view id) {
  const std::string open = "<section id=\"" + std::string(id) + "\"";
  const std::size_t a = page.find(open);
  if (a == std::string::npos) return {};
  const std::size_t b = page.find("</section>", a);
  return page.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

}  // namespace kamwatch::report
