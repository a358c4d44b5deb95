#include <gtest/gtest.h>

#include <cerrno>

#include "eddy/error.hpp"

namespace {

TEST(ErrorTest, CategoryHasReadableMessages) {
  std::error_code ec = eddy::errc::busy;
  EXPECT_STREQ(ec.category().name(), "eddy");
  EXPECT_NE(ec.message().find("busy"), std::string::npos);
  EXPECT_EQ(std::error_code(eddy::errc::operation_canceled).message(), "operation canceled");
  EXPECT_TRUE(ec);
}

TEST(ErrorTest, MapsToStandardConditions) {
  EXPECT_EQ(std::error_code(eddy::errc::operation_canceled), std::errc::operation_canceled);
  EXPECT_EQ(std::error_code(eddy::errc::connection_refused), std::errc::connection_refused);
  EXPECT_EQ(std::error_code(eddy::errc::busy), std::errc::device_or_resource_busy);
}

TEST(ErrorTest, ErrnoWin32AndNtstatusMeetInOneCondition) {
  // The same failure as each OS names it.
  EXPECT_EQ(eddy::from_errno(ECANCELED), eddy::errc::operation_canceled);
  EXPECT_EQ(eddy::from_win32(995), eddy::errc::operation_canceled);  // ERROR_OPERATION_ABORTED
  EXPECT_EQ(eddy::from_win32(676), eddy::errc::operation_canceled);  // ERROR_HANDLES_CLOSED (Wine)
  EXPECT_EQ(eddy::from_ntstatus(static_cast<std::int32_t>(0xC0000120u)), eddy::errc::operation_canceled);

  EXPECT_EQ(eddy::from_errno(ECONNREFUSED), eddy::errc::connection_refused);
  EXPECT_EQ(eddy::from_win32(10061), eddy::errc::connection_refused);  // WSAECONNREFUSED
  EXPECT_EQ(eddy::from_win32(1225), eddy::errc::connection_refused);   // ERROR_CONNECTION_REFUSED
  EXPECT_EQ(eddy::from_ntstatus(static_cast<std::int32_t>(0xC0000236u)), eddy::errc::connection_refused);

  EXPECT_EQ(eddy::from_errno(ENOENT), eddy::errc::no_such_file);
  EXPECT_EQ(eddy::from_win32(2), eddy::errc::no_such_file);
  EXPECT_EQ(eddy::from_errno(EADDRINUSE), eddy::errc::address_in_use);
  EXPECT_EQ(eddy::from_win32(10048), eddy::errc::address_in_use);
}

TEST(ErrorTest, SuccessAndUnknownValues) {
  EXPECT_FALSE(eddy::from_errno(0));
  EXPECT_FALSE(eddy::from_win32(0));
  EXPECT_FALSE(eddy::from_ntstatus(0));
  EXPECT_EQ(eddy::from_win32(0xDEADu), eddy::errc::unknown);
  EXPECT_EQ(eddy::from_errno(-12345), eddy::errc::unknown);
}

}  // namespace
