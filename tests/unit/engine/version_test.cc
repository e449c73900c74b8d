#include "server/engine/version.h"

#include <gtest/gtest.h>

namespace tessera::engine {
namespace {

Version V(const char* s) { return *Version::Parse(s); }

TEST(VersionTest, ComparesNumericallyNotLexically) {
  EXPECT_GT(V("2.10"), V("2.9"));
  EXPECT_LT(V("1.9.9"), V("1.10"));
  EXPECT_GT(V("10"), V("9.99"));
}

TEST(VersionTest, MissingComponentsAreZero) {
  EXPECT_EQ(V("2"), V("2.0"));
  EXPECT_EQ(V("2.0.0"), V("2"));
  EXPECT_LT(V("2"), V("2.0.1"));
}

TEST(VersionTest, RejectsMalformedText) {
  for (const char* bad :
       {"", ".", "1.", ".1", "1..2", "a", "1.a", "-1", "1.2.3.4.5.6.7.8.9", "1234567890", " 1"}) {
    EXPECT_FALSE(Version::Parse(bad).has_value()) << bad;
  }
  EXPECT_EQ(V("1.02").ToString(), "1.2");
}

}  // namespace
}  // namespace tessera::engine
