// The io_uring port's file operations (see port_state.hpp for how the port is split): which
// file opcodes this kernel has, probed once at init, and the SQE for each file_* kind.
// Loop thread only.
#include "platform/uring/port_state.hpp"

#include "platform/posix/fs_posix.hpp"

namespace eddy::platform::uring {

// Which file operations go through the ring: the kernel's probe says which opcodes exist
// (never guessed from the version). Reads and writes at the file's position (offset -1) also
// need IORING_FEAT_RW_CUR_POS (Linux 5.6).
void port::probe_file_ops(const io_uring_params& params) noexcept {
  file_ops_ = 0;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) return;
  const auto bit = [](detail::op_kind k) {
    return 1u << (static_cast<unsigned>(k) - static_cast<unsigned>(detail::op_kind::file_open));
  };
  const auto has = [probe](int opcode) { return io_uring_opcode_supported(probe, opcode) != 0; };
  const bool cur_pos = (params.features & IORING_FEAT_RW_CUR_POS) != 0;
  if (has(IORING_OP_OPENAT)) file_ops_ |= bit(detail::op_kind::file_open);
  if (has(IORING_OP_CLOSE)) file_ops_ |= bit(detail::op_kind::file_close);
  if (has(IORING_OP_READV) && cur_pos) file_ops_ |= bit(detail::op_kind::file_read);
  if (has(IORING_OP_WRITEV) && cur_pos) file_ops_ |= bit(detail::op_kind::file_write);
  if (has(IORING_OP_STATX)) file_ops_ |= bit(detail::op_kind::file_stat);
  if (has(IORING_OP_FSYNC)) file_ops_ |= bit(detail::op_kind::file_sync);
  single_rw_ = has(IORING_OP_READ) && has(IORING_OP_WRITE);
  io_uring_free_probe(probe);
}

// One buffer of at most what one read or write moves (Linux's MAX_RW_COUNT): the plain
// opcode then saves the kernel importing an iovec.
bool port::single_buffer(const detail::operation& op) const noexcept {
  return single_rw_ && op.nbufs == 1 && op.bufs[0].len <= 0x7ffff000u;
}

void port::prep_file(io_uring_sqe* sqe, detail::operation& op) noexcept {
  const int fd = static_cast<int>(op.file);
  const auto* iov = reinterpret_cast<const iovec*>(op.bufs);
  switch (op.kind) {
    case detail::op_kind::file_open:
      io_uring_prep_openat(sqe, AT_FDCWD, static_cast<const char*>(op.addr),
                           posix::to_open_flags(static_cast<fs::open_flags>(op.flags)), op.mode);
      break;
    case detail::op_kind::file_close:
      io_uring_prep_close(sqe, fd);
      break;
    case detail::op_kind::file_read:  // offset -1: the file position
      if (single_buffer(op)) {
        io_uring_prep_read(sqe, fd, iov->iov_base, static_cast<unsigned>(iov->iov_len), static_cast<__u64>(op.offset));
      } else {
        io_uring_prep_readv(sqe, fd, iov, op.nbufs, static_cast<__u64>(op.offset));
      }
      break;
    case detail::op_kind::file_write:
      if (single_buffer(op)) {
        io_uring_prep_write(sqe, fd, iov->iov_base, static_cast<unsigned>(iov->iov_len), static_cast<__u64>(op.offset));
      } else {
        io_uring_prep_writev(sqe, fd, iov, op.nbufs, static_cast<__u64>(op.offset));
      }
      break;
    case detail::op_kind::file_stat: {
      const int no_follow = (op.flags & detail::stat_no_follow) != 0 ? AT_SYMLINK_NOFOLLOW : 0;
      auto* x = reinterpret_cast<struct statx*>(op.buf.base);
      if (op.addr != nullptr) {
        io_uring_prep_statx(sqe, AT_FDCWD, static_cast<const char*>(op.addr), no_follow,
                            STATX_BASIC_STATS | STATX_BTIME, x);
      } else {
        io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, x);
      }
      break;
    }
    case detail::op_kind::file_sync:
      io_uring_prep_fsync(sqe, fd, (op.flags & detail::sync_data_only) != 0 ? IORING_FSYNC_DATASYNC : 0);
      break;
    default:
      io_uring_prep_nop(sqe);  // not a file operation: never called so
      break;
  }
}

}  // namespace eddy::platform::uring
