#pragma once
// A simulated portfolio (daemon/sim) as account states: every event decoded by kamwatch's own
// decoder and applied as the pipeline applies it. Shared by the scoring, app and integration
// tests of the portfolio partials.
#include <map>
#include <string>

#include "ingest/decoder.h"
#include "model/account_state.h"
#include "sim/simulator.h"

namespace kamwatch::testing {

inline std::map<std::string, model::AccountState> simulated_states(const sim::SimOptions& options) {
  std::map<std::string, model::AccountState> states;
  ingest::Decoder decoder;
  model::Event event;
  sim::simulate(
      options,
      [&](const sim::SimEvent& ev) {
        if (decoder.decode_json(ev.json, event)) return;  // the simulator's events are valid
        model::apply(states[event.subject], event, model::Retention{});
      },
      nullptr);
  return states;
}

}  // namespace kamwatch::testing
