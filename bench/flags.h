#pragma once
// Command-line flags of the broker benchmarks (pipeline, latency, scale): each flag is declared
// once with its variable and its help line, `--help` prints the usage built from them, and an
// unknown flag, a missing value or a value that is not a whole number in range is refused with
// exit code 2 (a typo such as `--event 1000` must not start a 5-million-event run).
// Thread-safety: none needed (parsed once in main).
#include <charconv>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kamwatch::bench {

class Flags {
 public:
  // program: the executable's name; synopsis: what it does and what it prints (one paragraph,
  // printed under the usage line).
  Flags(std::string program, std::string synopsis)
      : program_(std::move(program)), synopsis_(std::move(synopsis)) {}

  // A flag without a value: sets *out to true.
  void add(std::string name, bool* out, std::string help) {
    flags_.push_back({std::move(name), "", std::move(help), [out](std::string_view) {
                        *out = true;
                        return std::string();
                      }});
  }
  // A flag with a text value, shown as `metavar` in the usage.
  void add(std::string name, std::string* out, std::string metavar, std::string help) {
    flags_.push_back(
        {std::move(name), std::move(metavar), std::move(help), [out](std::string_view v) {
           *out = std::string(v);
           return std::string();
         }});
  }
  // A flag with a whole-number value in [min, max].
  template <class Int>
  void add(std::string name, Int* out, std::string metavar, std::string help,
           Int min = std::numeric_limits<Int>::min(), Int max = std::numeric_limits<Int>::max()) {
    flags_.push_back(
        {std::move(name), std::move(metavar), std::move(help),
         [out, min, max](std::string_view v) { return parse_int(v, min, max, *out); }});
  }
  // A flag whose value is handed to fn, which returns an error message ("" when it is fine).
  void add(std::string name, std::string metavar, std::string help,
           std::function<std::string(std::string_view)> fn) {
    flags_.push_back({std::move(name), std::move(metavar), std::move(help), std::move(fn)});
  }

  // Parses argv. Returns -1 to go on, or the exit code main should return: 0 after --help
  // (usage on stdout), 2 after an error (the error and a pointer to --help on stderr).
  int parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::fputs(usage().c_str(), stdout);
        return 0;
      }
      const Flag* flag = find(arg);
      if (!flag) return fail("unknown flag '" + std::string(arg) + "'");
      std::string_view value;
      if (!flag->metavar.empty()) {
        if (i + 1 >= argc) return fail(std::string(arg) + " needs a value (" + flag->metavar + ")");
        value = argv[++i];
      }
      if (std::string error = flag->set(value); !error.empty())
        return fail(std::string(arg) + " " + std::string(value) + ": " + error);
    }
    return -1;
  }

  [[nodiscard]] std::string usage() const {
    std::string out = "usage: " + program_ + " [flags]\n\n" + synopsis_ + "\n\nflags:\n";
    for (const Flag& f : flags_) {
      std::string head = "  " + f.name + (f.metavar.empty() ? "" : " " + f.metavar);
      out += head;
      out += head.size() < 26 ? std::string(26 - head.size(), ' ') : "\n" + std::string(26, ' ');
      out += f.help + "\n";
    }
    out += "  --help                  this text\n";
    return out;
  }

  // Parses v, a whole number in [min, max], into out. Returns the error ("" when it is fine);
  // out is unchanged then.
  template <class Int>
  static std::string parse_int(std::string_view v, Int min, Int max, Int& out) {
    Int parsed{};
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), parsed);
    if (ec == std::errc::invalid_argument || end != v.data() + v.size())
      return "not a whole number";
    if (ec == std::errc::result_out_of_range || parsed < min || parsed > max)
      return "out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")";
    out = parsed;
    return "";
  }

 private:
  struct Flag {
    std::string name;
    std::string metavar;  // "" for a flag without a value
    std::string help;
    std::function<std::string(std::string_view)> set;
  };

  [[nodiscard]] const Flag* find(std::string_view name) const {
    for (const Flag& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }

  int fail(const std::string& error) const {
    std::fprintf(stderr, "%s: %s (see --help)\n", program_.c_str(), error.c_str());
    return 2;
  }

  std::string program_;
  std::string synopsis_;
  std::vector<Flag> flags_;
};

}  // namespace kamwatch::bench
