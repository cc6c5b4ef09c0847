#include "report/html.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kamwatch::report {
namespace {

TEST(Escape, EscapesMarkupCharacters) {
  EXPECT_EQ(escape("<script>alert(\"x\") & 'y'</script>"),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;");
  EXPECT_EQ(escape("plain text"), "plain text");
}

TEST(Escape, KeepsValidUtf8AndRepairsInvalid) {
  EXPECT_EQ(escape("M\xC3\xBCller \xE2\x82\xAC \xF0\x9F\x93\x88"),
            "M\xC3\xBCller \xE2\x82\xAC \xF0\x9F\x93\x88");
  EXPECT_EQ(escape("a\xFF"
                   "b"),
            "a\xEF\xBF\xBD"
            "b");                                                             // stray byte
  EXPECT_EQ(escape("\xC3"), "\xEF\xBF\xBD");                                  // truncated sequence
  EXPECT_EQ(escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(Escape, DropsControlCharactersButKeepsWhitespace) {
  EXPECT_EQ(escape(std::string("a\0b\x01\x7F", 5) + "\tc\nd\r"), "ab\tc\nd\r");
}

TEST(Format, Numbers) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(999), "999");
  EXPECT_EQ(format_number(1234567.891, 2), "1,234,567.89");
  EXPECT_EQ(format_number(-12345.6, 0), "-12,346");
  EXPECT_EQ(format_number(-0.04, 1), "0.0");
  EXPECT_EQ(format_number(NAN), "n/a");
  EXPECT_EQ(format_number(INFINITY), "n/a");
  EXPECT_EQ(format_percent(0.1234, 1), "12.3%");
  EXPECT_EQ(format_percent(NAN), "n/a");
  EXPECT_EQ(format_signed(1.25, 1), "+1.2");
  EXPECT_EQ(format_signed(-3, 1), "-3.0");
  EXPECT_EQ(format_signed(0.01, 1), "0.0");
  EXPECT_EQ(format_coord(12.5), "12.5");
  EXPECT_EQ(format_coord(3.0), "3");
  EXPECT_EQ(format_coord(-0.001), "0");
  EXPECT_EQ(format_coord(1.239), "1.24");
}

TEST(Format, Dates) {
  const TimeMs t = *parse_rfc3339("2026-03-02T09:15:42Z");
  EXPECT_EQ(format_date(t), "2026-03-02");
  EXPECT_EQ(format_datetime(t), "2026-03-02 09:15 UTC");
  EXPECT_EQ(format_date(0), "never");
}

}  // namespace
}  // namespace kamwatch::report
