#include "core/log.h"

#include <unistd.h>

#include <atomic>

#include "core/clock.h"
#include "core/json_writer.h"

namespace kamwatch::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level)); }

bool set_level(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kNames[i] == name) {
      set_level(static_cast<Level>(i));
      return true;
    }
  }
  return false;
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

std::string format(Level level, std::string_view msg, std::initializer_list<Attr> attrs) {
  JsonWriter w;
  w.begin_object();
  w.field("ts", format_rfc3339(SystemClock().now()));
  w.field("level", kNames[static_cast<int>(level)]);
  w.field("msg", msg);
  for (const Attr& a : attrs) {
    w.key(a.key);
    std::visit([&w](const auto& v) { w.value(v); }, a.value);
  }
  w.end_object();
  std::string line = w.take();
  line.push_back('\n');
  return line;
}

void write(Level level, std::string_view msg, std::initializer_list<Attr> attrs) {
  const std::string line = format(level, msg, attrs);
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;  // nowhere to report a failed log write
}

}  // namespace kamwatch::log
