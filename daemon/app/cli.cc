#include "app/cli.h"

namespace kamwatch::app {

Result<Args> parse_args(const std::vector<std::string>& argv, const FlagSpec& spec) {
  Args out;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-h") {
      out.switches.insert("help");
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      out.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (spec.switches.count(name)) {
      if (value) return Error{"usage", "--" + name + " takes no value"};
      out.switches.insert(name);
    } else if (spec.with_value.count(name)) {
      if (!value) {
        if (i + 1 >= argv.size()) return Error{"usage", "--" + name + " needs a value"};
        value = argv[++i];
      }
      out.values[name] = *value;
    } else {
      return Error{"usage", "unknown flag --" + name + " (see --help)"};
    }
  }
  return out;
}

}  // namespace kamwatch::app
