#include "proxy/wire.h"

#include <gtest/gtest.h>

using namespace postern;

TEST(Wire, ChunkSizeLinesAreHex) {
  char buf[24];
  EXPECT_EQ(std::string(buf, proxy::chunk_size_line(500, buf)), "1f4\r\n");
  EXPECT_EQ(std::string(buf, proxy::chunk_size_line(65536, buf)), "10000\r\n");
  EXPECT_EQ(std::string(buf, proxy::chunk_size_line(1, buf)), "1\r\n");
}
