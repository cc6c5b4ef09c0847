#pragma once
// Portfolio-wide account attributes (key-account flag, revenue rank, CLV, P(alive)) for rule
// evaluation, computed with kamwatch::scoring over all accounts and refreshed periodically.
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/replay.h"

namespace kamwatch::app {

// Recomputes the portfolio at most once per `refresh` of the clock; cheap in between.
[[nodiscard]] engine::AttributesFn portfolio_attributes_fn(TimeMs refresh = 7 * kDayMs);

}  // namespace kamwatch::app
