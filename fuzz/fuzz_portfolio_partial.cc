// libFuzzer target: the portfolio partial codec (daemon/scoring/portfolio_partial.h), what
// instances read from each other on cluster.summary_topic. Decoding must never crash or
// over-allocate; when it succeeds the partial must be consistent (counts add up, order holds)
// and re-encode to bytes that decode to the same partial, stably.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "scoring/portfolio_partial.h"

namespace {

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_portfolio_partial: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kamwatch;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto partial = scoring::decode_partial(in);
  if (!partial.ok()) {
    if (partial.error().code.empty()) finding("error without a code", partial.error().message);
    return 0;
  }
  std::int64_t accounts = 0, customers = 0;
  for (const auto& r : partial->revenues) accounts += r.accounts;
  for (const auto& c : partial->customers) customers += c.customers;
  if (accounts != partial->accounts) finding("revenue counts do not add up", "");
  if (customers != partial->order_accounts) finding("customer counts do not add up", "");
  const std::string once = scoring::encode_partial(*partial);
  auto again = scoring::decode_partial(once);
  if (!again.ok()) finding("re-encoded partial does not decode", again.error().to_string());
  if (!(*again == *partial)) finding("round trip changed the partial", "");
  if (scoring::encode_partial(*again) != once) finding("round trip is not stable", "");
  return 0;
}
