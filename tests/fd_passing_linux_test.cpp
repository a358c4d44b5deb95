// The SCM_RIGHTS walk of ipc pipes (platform/posix/fd_passing.hpp) on control data the kernel
// would not write: it must stay inside msg_controllen (tests/fuzz/fd_passing_fuzz.cpp checks
// the same on any bytes). The old CMSG_FIRSTHDR/CMSG_NXTHDR walk trusted cmsg_len: a length
// below the header's underflowed the descriptor count, and one past the end of the control
// data was read past the buffer (an ASan heap-buffer-overflow).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "platform/posix/fd_passing.hpp"

namespace {

using eddy::platform::posix::for_each_received_fd;
using eddy::platform::posix::take_received_fd;

std::vector<int> walk(std::vector<unsigned char>& control) {
  msghdr m{};
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  std::vector<int> fds;
  for_each_received_fd(m, [&fds](int fd) { fds.push_back(fd); });
  return fds;
}

std::vector<unsigned char> rights(std::size_t cmsg_len, std::vector<int> fds, std::size_t control_size) {
  std::vector<unsigned char> control(control_size);
  cmsghdr c{};
  c.cmsg_len = cmsg_len;
  c.cmsg_level = SOL_SOCKET;
  c.cmsg_type = SCM_RIGHTS;
  std::memcpy(control.data(), &c, sizeof c);
  for (std::size_t i = 0; i < fds.size() && CMSG_LEN((i + 1) * sizeof(int)) <= control_size; ++i) {
    std::memcpy(control.data() + CMSG_LEN(i * sizeof(int)), &fds[i], sizeof(int));
  }
  return control;
}

TEST(FdPassingLinuxTest, WalksWellFormedRights) {
  auto control = rights(CMSG_LEN(2 * sizeof(int)), {5, 6}, CMSG_SPACE(2 * sizeof(int)));
  EXPECT_EQ(walk(control), (std::vector<int>{5, 6}));
}

TEST(FdPassingLinuxTest, LengthShorterThanTheHeaderYieldsNothing) {
  auto control = rights(4, {5}, CMSG_SPACE(sizeof(int)));
  EXPECT_TRUE(walk(control).empty());
  msghdr m{};
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  EXPECT_EQ(take_received_fd(m), -1);
}

TEST(FdPassingLinuxTest, LengthPastTheControlDataYieldsNothing) {
  auto control = rights(4096, {5}, CMSG_LEN(sizeof(int)));
  EXPECT_TRUE(walk(control).empty());
}

TEST(FdPassingLinuxTest, NoControlDataYieldsNothing) {
  msghdr m{};
  EXPECT_EQ(take_received_fd(m), -1);
}

}  // namespace
