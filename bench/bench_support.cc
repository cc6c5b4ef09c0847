#include "bench_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "ingest/decoder.h"

namespace kamwatch::bench {

std::shared_ptr<const rules::RuleSet> shipped_rules() {
  static const std::shared_ptr<const rules::RuleSet> rs = [] {
    auto loaded = rules::load_rules({KAMWATCH_SOURCE_DIR "/rules"});
    if (!loaded.errors.empty() || !loaded.rules) {
      std::fprintf(stderr, "bench: cannot load the shipped rules: %s\n",
                   loaded.errors.empty() ? "no rules" : loaded.errors[0].to_string().c_str());
      std::exit(1);
    }
    return loaded.rules;
  }();
  return rs;
}

void simulate_decoded(const sim::SimOptions& options,
                      const std::function<void(const sim::SimEvent&, const model::Event&)>& fn) {
  ingest::Decoder decoder;
  model::Event e;
  sim::simulate(
      options,
      [&](const sim::SimEvent& se) {
        if (auto rej = decoder.decode_json(se.json, e)) {
          std::fprintf(stderr, "bench: simulated event rejected: %s\n", rej->message.c_str());
          std::exit(1);
        }
        fn(se, e);
      },
      nullptr);
}

void apply_event(model::AccountState& state, const model::Event& event, const rules::RuleSet& rs,
                 std::vector<model::DerivedTarget>& targets, const model::Retention& retention) {
  model::derived_targets(&rs.series_specs(), event, targets);
  model::apply(state, event, retention, targets);
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("bench: mkdtemp");
    std::exit(1);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace kamwatch::bench
