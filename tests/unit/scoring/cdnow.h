#pragma once
// Readers for the CDNOW fixtures in tests/data/cdnow (see the README there).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.h"
#include "model/event.h"
#include "scoring/bgnbd.h"

namespace kamwatch::scoring::testing {

inline std::filesystem::path cdnow_dir() {
  // KAMWATCH_SOURCE_DIR (tests/CMakeLists.txt), not __FILE__: through ccache (CCACHE_BASEDIR)
  // sources are compiled with paths relative to the build directory.
  return std::filesystem::path(KAMWATCH_SOURCE_DIR) / "tests" / "data" / "cdnow";
}

struct CdnowCustomer {
  int id = 0;
  CustomerSummary summary;  // weeks
};

// cdnow_customers_summary.csv: ID,frequency,recency,T.
inline std::vector<CdnowCustomer> load_cdnow_summary() {
  std::ifstream in(cdnow_dir() / "cdnow_customers_summary.csv");
  EXPECT_TRUE(in.good()) << "missing " << (cdnow_dir() / "cdnow_customers_summary.csv");
  std::vector<CdnowCustomer> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::istringstream row(line);
    CdnowCustomer c;
    char comma = 0;
    row >> c.id >> comma >> c.summary.x >> comma >> c.summary.t_x >> comma >> c.summary.T;
    out.push_back(c);
  }
  return out;
}

struct CdnowTransaction {
  std::string customer;
  TimeMs day = 0;  // midnight UTC
  int cds = 0;
  double dollars = 0;
};

// One CDNOW_master.txt line "customer_id YYYYMMDD cds dollars", or a CDNOW_sample.txt line
// "master_id sample_id YYYYMMDD cds dollars" (sample = true: the sample id is the customer).
inline CdnowTransaction parse_cdnow_line(const std::string& line, bool sample) {
  std::istringstream row(line);
  CdnowTransaction t;
  std::string master, date;
  if (sample) row >> master;
  row >> t.customer >> date >> t.cds >> t.dollars;
  const auto day =
      parse_date(date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2));
  EXPECT_TRUE(day.has_value()) << line;
  t.day = day.value_or(0);
  return t;
}

inline std::vector<CdnowTransaction> load_cdnow_sample() {
  std::ifstream in(cdnow_dir() / "CDNOW_sample.txt");
  EXPECT_TRUE(in.good()) << "missing " << (cdnow_dir() / "CDNOW_sample.txt");
  std::vector<CdnowTransaction> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(' ') == std::string::npos) continue;
    out.push_back(parse_cdnow_line(line, true));
  }
  return out;
}

// The transaction as the sales.order event kamwatch would consume. Several orders on one day
// get distinct times within the day, as real orders would.
inline model::Event to_order_event(const CdnowTransaction& t, int seq) {
  return model::Event{"cdnow-" + std::to_string(seq),
                      "cdnow",
                      "sales.order",
                      t.customer,
                      t.day + 9 * kHourMs + seq % 600 * kMinuteMs,
                      {{"amount", model::FieldValue::of_number(t.dollars)},
                       {"quantity", model::FieldValue::of_number(t.cds)}}};
}

}  // namespace kamwatch::scoring::testing
