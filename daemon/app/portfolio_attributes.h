#pragma once
// Portfolio-wide account attributes (key-account flag, revenue rank, CLV, P(alive)) for rule
// evaluation, computed with kamwatch::scoring over all accounts and refreshed periodically.
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/replay.h"
#include "scoring/portfolio.h"

namespace kamwatch::app {

// The rule attributes of one account's portfolio figures.
[[nodiscard]] rules::AccountAttributes attributes_of(const scoring::AccountFigures& figures);

// Recomputes the portfolio at most once per `refresh` of the clock; cheap in between.
[[nodiscard]] engine::AttributesFn portfolio_attributes_fn(TimeMs refresh = 7 * kDayMs);

}  // namespace kamwatch::app
