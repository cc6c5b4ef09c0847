#pragma once
// JSON rendering of an account's state, shared by `kamwatch state show` and the HTTP API.
#include <string>

#include "core/json_writer.h"
#include "model/account_state.h"

namespace kamwatch::model {

struct AccountJsonOptions {
  bool buckets = false;  // include every bucket (large); otherwise bucket counts only
};

void write_field_value(JsonWriter& w, const FieldValue& v);
void write_account_json(JsonWriter& w, const AccountState& s, const AccountJsonOptions& opt = {});
std::string account_json(const AccountState& s, const AccountJsonOptions& opt = {});

}  // namespace kamwatch::model
