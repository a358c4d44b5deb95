// The SCM_RIGHTS walk behind ipc pipes on Linux (platform/posix/fd_passing.hpp): the code
// that finds the descriptors a peer sent in a message's control data.
//
// Input: byte 0 picks the mode. Raw: the rest is the control data itself, any bytes at all.
// Shaped: the rest describes control messages the way the kernel writes them (each byte: how
// many descriptors, or another kind of message), filled with real descriptors.
// Checks: the walk reads only inside the control data (ASan: the buffer is exactly that
// long) and yields no more descriptors than fit in it; on kernel-shaped data it yields
// exactly the descriptors placed, in order, and take_received_fd keeps the first and closes
// every other one.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_check.hpp"
#include "platform/posix/fd_passing.hpp"

namespace {

using eddy::platform::posix::for_each_received_fd;
using eddy::platform::posix::take_received_fd;

msghdr message_over(unsigned char* control, std::size_t size) {
  msghdr m{};
  m.msg_control = size == 0 ? nullptr : control;
  m.msg_controllen = size;
  return m;
}

void raw(const std::uint8_t* data, std::size_t size) {
  // An exact-size heap copy: one byte past it is a heap-buffer-overflow for ASan.
  auto control = std::make_unique<unsigned char[]>(size == 0 ? 1 : size);
  if (size != 0) std::memcpy(control.get(), data, size);
  const msghdr m = message_over(control.get(), size);
  std::size_t count = 0;
  for_each_received_fd(m, [&count](int) { ++count; });
  EDDY_FUZZ_CHECK(count <= size / sizeof(int));
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

void shaped(const std::uint8_t* data, std::size_t size) {
  // At most 8 messages of at most 3 descriptors: 24 descriptors open at once.
  if (size > 8) size = 8;
  std::vector<unsigned char> control;
  std::vector<int> placed;
  for (std::size_t i = 0; i < size; ++i) {
    const unsigned n = data[i] % 4;
    const bool rights = (data[i] & 0x80) == 0;
    const std::size_t at = control.size();
    control.resize(at + CMSG_SPACE(n * sizeof(int)));
    cmsghdr c{};
    c.cmsg_len = CMSG_LEN(n * sizeof(int));
    c.cmsg_level = SOL_SOCKET;
    c.cmsg_type = rights ? SCM_RIGHTS : SCM_CREDENTIALS;
    std::memcpy(control.data() + at, &c, sizeof c);
    for (unsigned k = 0; k < n; ++k) {
      int fd = -1;
      if (rights) {
        fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        EDDY_FUZZ_CHECK(fd >= 0);
        placed.push_back(fd);
      }
      std::memcpy(control.data() + at + CMSG_LEN(0) + k * sizeof(int), &fd, sizeof fd);
    }
  }
  // The kernel reports the length without the last message's padding.
  std::size_t len = control.size();
  if (!control.empty()) {
    cmsghdr last{};
    std::size_t at = 0;
    for (std::size_t off = 0; off < control.size(); off += CMSG_ALIGN(last.cmsg_len)) {
      std::memcpy(&last, control.data() + off, sizeof last);
      at = off;
    }
    len = at + last.cmsg_len;
  }
  auto exact = std::make_unique<unsigned char[]>(len == 0 ? 1 : len);
  if (len != 0) std::memcpy(exact.get(), control.data(), len);
  const msghdr m = message_over(exact.get(), len);

  std::vector<int> found;
  for_each_received_fd(m, [&found](int fd) { found.push_back(fd); });
  EDDY_FUZZ_CHECK(found == placed);

  const int kept = take_received_fd(m);
  if (placed.empty()) {
    EDDY_FUZZ_CHECK(kept == -1);
    return;
  }
  EDDY_FUZZ_CHECK(kept == placed.front() && is_open(kept));
  for (std::size_t i = 1; i < placed.size(); ++i) EDDY_FUZZ_CHECK(!is_open(placed[i]));
  ::close(kept);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    raw(data + 1, size - 1);
  } else {
    shaped(data + 1, size - 1);
  }
  return 0;
}
