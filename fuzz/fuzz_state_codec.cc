// libFuzzer target: the state codec (daemon/state/codec.h) on arbitrary bytes, read both as an
// account and as an outbox record. Decoding must never crash or over-allocate; when it
// succeeds, re-encoding and decoding again must succeed and be stable:
//   encode(decode(encode(decode(input)))) == encode(decode(input)), bit for bit.
// (The input itself need not re-encode to the same bytes: version 1 records, non-minimal
// varints and flags left unset for derivable doubles all decode to the same value.)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "state/codec.h"

namespace {

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_state_codec: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kamwatch;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto account = state::decode_account(in); account.ok()) {
    const std::string once = state::encode_account(*account);
    auto again = state::decode_account(once);
    if (!again.ok()) finding("re-encoded account does not decode", again.error().to_string());
    const std::string twice = state::encode_account(*again);
    if (twice != once) finding("account round trip is not stable", std::to_string(once.size()) +
                                                                       " vs " +
                                                                       std::to_string(twice.size()) +
                                                                       " bytes");
  } else if (account.error().code.empty()) {
    finding("account error without a code", account.error().message);
  }

  if (auto record = state::decode_outbox(in); record.ok()) {
    const std::string once = state::encode_outbox(*record);
    auto again = state::decode_outbox(once);
    if (!again.ok()) finding("re-encoded outbox record does not decode", again.error().to_string());
    if (again->sink != record->sink || again->key != record->key || again->value != record->value ||
        again->headers != record->headers) {
      finding("outbox round trip changed the record", record->sink);
    }
    if (state::encode_outbox(*again) != once) finding("outbox round trip is not stable", "");
  } else if (record.error().code.empty()) {
    finding("outbox error without a code", record.error().message);
  }
  return 0;
}
