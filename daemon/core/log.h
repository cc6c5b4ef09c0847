#pragma once
// Structured logging: one JSON object per line on stderr (OpenTelemetry-style fields:
// ts, level, msg, plus attributes). Thread-safety: every function may be called from any
// thread; a line is written with one write(2).
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace kamwatch::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct Attr {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double, bool> value;
  Attr(std::string_view k, std::string_view v) : key(k), value(v) {}
  Attr(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Attr(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Attr(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Attr(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Attr(std::string_view k, std::uint64_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Attr(std::string_view k, double v) : key(k), value(v) {}
  Attr(std::string_view k, bool v) : key(k), value(v) {}
};

void set_level(Level level);
// Parses "debug", "info", "warn", "error"; false when unknown.
bool set_level(std::string_view name);
[[nodiscard]] bool enabled(Level level);
// Formats one line (exposed for tests).
std::string format(Level level, std::string_view msg, std::initializer_list<Attr> attrs);
void write(Level level, std::string_view msg, std::initializer_list<Attr> attrs = {});

inline void debug(std::string_view msg, std::initializer_list<Attr> attrs = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, msg, attrs);
}
inline void info(std::string_view msg, std::initializer_list<Attr> attrs = {}) {
  if (enabled(Level::kInfo)) write(Level::kInfo, msg, attrs);
}
inline void warn(std::string_view msg, std::initializer_list<Attr> attrs = {}) {
  if (enabled(Level::kWarn)) write(Level::kWarn, msg, attrs);
}
inline void error(std::string_view msg, std::initializer_list<Attr> attrs = {}) {
  write(Level::kError, msg, attrs);
}

}  // namespace kamwatch::log
