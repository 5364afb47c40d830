#include "session/compact_jws.h"

#include <gtest/gtest.h>

namespace postern::session {
namespace {

TEST(CompactJws, KeepsTheDecodedSegmentsAndGivesBackTheSameText) {
  const std::string token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMHUxIiwiZW1haWwiOiJhQHguaW8ifQ.c2lnbmF0dXJl";
  CompactJws jws(token);
  EXPECT_EQ(jws.text(), token);
  EXPECT_EQ(jws.payload(), R"({"sub":"00u1","email":"a@x.io"})");
  EXPECT_LT(jws.heap_bytes(), token.size());
}

TEST(CompactJws, KeepsAnythingElseVerbatim) {
  for (const std::string text : {"", "opaque-token", "a.b", "a.b.c.d", "e30.e30.c2ln=", "e30.e30.c2lo"}) {
    CompactJws jws(text);
    EXPECT_EQ(jws.text(), text);
  }
  EXPECT_EQ(CompactJws("e30.e30.c2ln=").payload(), "{}");  // padded: verbatim, still readable
  EXPECT_TRUE(CompactJws("").empty());
}

}  // namespace
}  // namespace postern::session
