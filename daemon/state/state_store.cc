#include "state/state_store.h"

namespace kamwatch::state {

// source '\x1f' id. CloudEvents sources are URI-references, which cannot contain control
// characters, so the fast path is plain concatenation; a source that does contain \x1e or \x1f
// has them escaped with \x1e so that the first unescaped \x1f always ends the source and no two
// (source, id) pairs share a key.
void dedup_key_to(std::string& key, std::string_view source, std::string_view id) {
  constexpr char kSep = '\x1f';
  constexpr char kEsc = '\x1e';
  key.clear();
  if (source.find_first_of("\x1e\x1f") == std::string_view::npos) {
    key.reserve(source.size() + 1 + id.size());
    key.append(source);
  } else {
    key.reserve(2 * source.size() + 1 + id.size());
    for (char c : source) {
      if (c == kSep || c == kEsc) key.push_back(kEsc);
      key.push_back(c);
    }
  }
  key.push_back(kSep);
  key.append(id);
}

std::string dedup_key(std::string_view source, std::string_view id) {
  std::string key;
  dedup_key_to(key, source, id);
  return key;
}

Result<std::vector<std::string>> StateStore::active_alerts() {
  std::vector<std::string> out;
  auto r = for_each_active_alert([&](std::string_view record) { out.emplace_back(record); });
  if (!r.ok()) return r.error();
  return out;
}

}  // namespace kamwatch::state
