// libFuzzer target: the rule loader on one arbitrary file. It must never crash, only report
// diagnostics. When the file loads, every rule and the health score are evaluated on a fixed
// account (fuzz_rules_common.h) to exercise the compiled expressions.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_rules_common.h"
#include "rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kamwatch;
  if (size > 64 * 1024) return 0;  // rule files are small; keep iterations fast
  const std::string text(reinterpret_cast<const char*>(data), size);
  const rules::LoadResult r = rules::load_rules_from_strings({{"fuzz.yaml", text}});
  static const bool verbose = std::getenv("KAMWATCH_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s\n", r.rules ? "loaded" : "refused");
    for (const rules::Diagnostic& d : r.errors) std::fprintf(stderr, "  %s\n", d.to_string().c_str());
  }
  if (r.rules == nullptr) {
    // A refused file says why, with a position in it.
    if (r.errors.empty()) __builtin_trap();
    for (const rules::Diagnostic& d : r.errors) {
      if (d.message.empty() || d.to_string().empty()) __builtin_trap();
    }
    return 0;
  }
  if (!r.errors.empty()) __builtin_trap();  // a rule set is only returned without errors
  const model::AccountState account = fuzz::build_account(*r.rules);
  volatile std::size_t sink = fuzz::evaluate_all(*r.rules, account);
  (void)sink;
  return 0;
}
