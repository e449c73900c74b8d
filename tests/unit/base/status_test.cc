#include "base/status.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("not positive");
  return v;
}

Status UseParse(int v, int* out) {
  TESSERA_ASSIGN_OR_RETURN(*out, ParsePositive(v));
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsRenderDistinctly) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "ok");
  const Status s = ResourceExhausted("frame too large");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.ToString(), "resource_exhausted: frame too large");
  EXPECT_EQ(s.Annotate("read").message(), "read: frame too large");
}

TEST(StatusTest, ResultCarriesValueOrError) {
  int out = 0;
  EXPECT_TRUE(UseParse(7, &out).ok());
  EXPECT_EQ(out, 7);
  const Status bad = UseParse(-1, &out);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 7);
}

}  // namespace
}  // namespace tessera
