#pragma once
// Reads one JSON object into top-level fields (nested values kept as JSON text), for tools
// that read JSON Lines other than events (e.g. ground-truth files).
#include <map>
#include <string>
#include <string_view>

#include "core/result.h"
#include "model/event.h"

namespace kamwatch::ingest {

[[nodiscard]] Result<std::map<std::string, model::FieldValue>> parse_json_object(
    std::string_view json);

}  // namespace kamwatch::ingest
