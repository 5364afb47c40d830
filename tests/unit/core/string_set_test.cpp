// StringSet: owned and borrowed strings answer the same, copies of an owning set do not point into the original, and
// long sets (sorted index) and short ones (scan) agree.
#include "core/string_set.h"

#include <gtest/gtest.h>

#include <memory>

namespace postern::core {
namespace {

TEST(StringSet, ShortAndLongSetsAnswerAlike) {
  for (const std::size_t n : {0u, 1u, 8u, 9u, 200u}) {
    std::vector<std::string> values;
    for (std::size_t i = 0; i < n; ++i) values.push_back("group-with-a-long-name-" + std::to_string(n - i));
    const StringSet s(values);
    EXPECT_EQ(s.size(), n);
    for (const auto& v : values) EXPECT_TRUE(s.contains(v)) << v;
    EXPECT_FALSE(s.contains("group-with-a-long-name-0"));
    EXPECT_FALSE(s.contains(""));
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(s.values()[i], values[i]);  // the order given
  }
}

TEST(StringSet, ACopyOwnsItsStrings) {
  auto original = std::make_unique<StringSet>(std::vector<std::string>{"a-string-too-long-for-sso-1", "short"});
  StringSet copy = *original;
  StringSet assigned;
  assigned = *original;
  StringSet moved = std::move(*original);
  original.reset();
  for (const auto* s : {&copy, &assigned, &moved}) {
    EXPECT_TRUE(s->contains("a-string-too-long-for-sso-1"));
    EXPECT_TRUE(s->contains("short"));
    EXPECT_EQ(s->values()[1], "short");
  }
}

TEST(StringSet, ABorrowingSetReadsTheCallersStorage) {
  const std::vector<std::string> storage{"00g1", "00g2", "Engineering"};
  const auto s = StringSet::borrowing({storage[2], storage[0]});
  EXPECT_TRUE(s.contains("Engineering"));
  EXPECT_FALSE(s.contains("00g2"));
  EXPECT_EQ(s.values()[0].data(), storage[2].data());  // a view, not a copy
}

}  // namespace
}  // namespace postern::core
