#pragma once
// A process's memory and CPU from /proc, for the benchmarks that run kamwatch as a process.
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace kamwatch::bench {

// A /proc/PID/status field in KiB ("VmHWM" = peak resident set, "VmRSS" = now); -1 if absent.
inline long status_kib(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}
inline long peak_rss_kib(pid_t pid) { return status_kib(pid, "VmHWM"); }
inline long rss_kib(pid_t pid) { return status_kib(pid, "VmRSS"); }

// User + system CPU seconds the process has used so far; -1 if it cannot be read.
inline double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace kamwatch::bench
