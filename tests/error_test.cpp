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

TEST(ErrorTest, FileSystemErrorsMeetInOneCondition) {
  EXPECT_EQ(eddy::from_errno(ENOTEMPTY), eddy::errc::directory_not_empty);
  EXPECT_EQ(eddy::from_win32(145), eddy::errc::directory_not_empty);  // ERROR_DIR_NOT_EMPTY
  EXPECT_EQ(std::error_code(eddy::errc::directory_not_empty), std::errc::directory_not_empty);
  EXPECT_EQ(eddy::from_errno(ENOTDIR), eddy::errc::not_a_directory);
  EXPECT_EQ(eddy::from_win32(267), eddy::errc::not_a_directory);  // ERROR_DIRECTORY
  EXPECT_EQ(eddy::from_errno(EXDEV), eddy::errc::cross_device_link);
  EXPECT_EQ(eddy::from_win32(17), eddy::errc::cross_device_link);  // ERROR_NOT_SAME_DEVICE
  EXPECT_EQ(eddy::from_errno(ENAMETOOLONG), eddy::errc::name_too_long);
  EXPECT_EQ(eddy::from_win32(206), eddy::errc::name_too_long);  // ERROR_FILENAME_EXCED_RANGE
  EXPECT_EQ(eddy::from_errno(ELOOP), eddy::errc::too_many_symlinks);
  EXPECT_EQ(eddy::from_win32(1921), eddy::errc::too_many_symlinks);  // ERROR_CANT_RESOLVE_FILENAME
  EXPECT_EQ(eddy::from_errno(EROFS), eddy::errc::read_only_file_system);
  EXPECT_EQ(eddy::from_win32(19), eddy::errc::read_only_file_system);  // ERROR_WRITE_PROTECT
  EXPECT_EQ(eddy::from_errno(ESPIPE), eddy::errc::invalid_seek);
  EXPECT_EQ(eddy::from_win32(32), eddy::errc::busy);  // ERROR_SHARING_VIOLATION
  EXPECT_EQ(std::error_code(eddy::errc::directory_not_empty).message(), "directory not empty");
}

TEST(ErrorTest, SuccessAndUnknownValues) {
  EXPECT_FALSE(eddy::from_errno(0));
  EXPECT_FALSE(eddy::from_win32(0));
  EXPECT_FALSE(eddy::from_ntstatus(0));
  EXPECT_EQ(eddy::from_win32(0xDEADu), eddy::errc::unknown);
  EXPECT_EQ(eddy::from_errno(-12345), eddy::errc::unknown);
}

}  // namespace
