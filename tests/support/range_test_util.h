#pragma once
// lo <= v <= hi as one assertion that names all three when it fails:
// EXPECT_TRUE(in_range(x, lo, hi)) or ASSERT_TRUE(...).
#include <gtest/gtest.h>

namespace cs::testing_range {

template <typename T, typename L, typename H>
::testing::AssertionResult in_range(const T& v, const L& lo, const H& hi) {
  if (lo <= v && v <= hi) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << v << " is outside [" << lo << ", " << hi << "]";
}

}  // namespace cs::testing_range
