// The file system's portable core, callback forms (the synchronous forms, which call
// platform/contract/fs.hpp and name the call and path in a failure, are in fs_sync.cpp). A callback
// form runs the synchronous form on the thread pool (one job per request) and hands the
// result to the callback on the loop thread. Where the
// port performs a file operation itself (io_uring: open, close, read, write, stat, fsync,
// when the kernel has the opcode), the callback form submits an operation to it instead.
#include "eddy/fs.hpp"

#include <memory>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/work.hpp"
#include "fs/fs_call.hpp"
#include "loop/loop_impl.hpp"

namespace eddy::fs {

namespace detail {
// What a request's cancel() needs; the jobs below add their parameters and results.
struct request_state {
  work_request work;
};
}  // namespace detail

namespace {

using eddy::detail::io_vec;
using internal::fail;
using internal::native;
using internal::to_vecs;
namespace sys = internal::sys;

// One callback-form request: its parameters (the path(s) are copied), the error and the
// values the callback receives (a tuple: none for done_callback, (file, path) for mkstemp).
template <class Values>
struct job final : detail::request_state {
  const char* call = "";
  std::string path, dest;
  error err;
  Values values{};
};

// Runs work(job&) -> error on a pool thread, then cb(err, values...) on the loop thread.
// A cancelled request calls back with operation_canceled, naming the call and its path.
template <class Values, class Work, class Callback>
request run(eddy::loop& loop, const char* call, std::string_view path, std::string_view dest, Work work,
            Callback cb) {
  auto j = std::make_shared<job<Values>>();
  j->call = call;
  j->path = path;
  j->dest = dest;
  j->work = queue_work(
      loop, [j, work = std::move(work)]() mutable { j->err = work(*j); },
      [j, cb = std::move(cb)](std::error_code ec) mutable {
        if (ec) {
          j->err = error(ec, j->call, std::move(j->path), std::move(j->dest));
          j->values = Values{};
        }
        std::apply([&](auto&... v) { cb(j->err, std::move(v)...); }, j->values);
      },
      work_kind::fast_io);
  return request(std::move(j));
}

using none = std::tuple<>;

// One request the port runs itself: the operation and what its parameters point to, and the
// caller's callback. It keeps itself alive (self) until the port has delivered the operation.
// One allocation per request: the callback lives in the job (finish, a plain function,
// knows which one it is) and up to four buffers in inline_vecs.
struct native_job final : detail::request_state {
  using callback = std::variant<done_callback, open_callback, size_callback, stat_callback>;
  using finish_fn = void (*)(const error&, native_job&);
  eddy::detail::operation op;
  const char* call = "";
  std::string path;
  io_vec inline_vecs[4];
  std::vector<io_vec> more_vecs;
  stat_info st;
  alignas(8) std::byte scratch[256];  // the port's raw stat result
  callback cb;
  finish_fn finish = nullptr;
  std::shared_ptr<native_job> self;
};

using eddy::detail::op_kind;

// A job for kind when the loop's port runs it, else nullptr (use the pool).
std::shared_ptr<native_job> native_for(eddy::loop& loop, op_kind kind, const char* call, std::string_view path = {}) {
  if (!loop.impl().port_supports(kind)) return nullptr;
  auto j = std::make_shared<native_job>();
  j->op.kind = kind;
  j->call = call;
  j->path = path;
  if (!j->path.empty()) j->op.addr = j->path.c_str();
  return j;
}

// Submits j with its callback; finish calls it (on the loop thread) with the outcome.
template <class Callback>
request submit(eddy::loop& loop, std::shared_ptr<native_job> j, Callback cb, native_job::finish_fn finish) {
  j->cb = std::move(cb);
  j->finish = finish;
  j->op.owner = j.get();
  j->op.complete = [](eddy::detail::operation* op) {
    auto* job = static_cast<native_job*>(op->owner);
    const std::shared_ptr<native_job> keep = std::move(job->self);
    const error err = op->error ? error(op->error, job->call, job->path) : error{};
    op->loop->invoke([&] { job->finish(err, *job); });
  };
  j->self = j;
  loop.impl().submit(j->op);
  return request(std::move(j));
}

void finish_done(const error& err, native_job& j) { std::get<done_callback>(j.cb)(err); }
void finish_size(const error& err, native_job& j) {
  std::get<size_callback>(j.cb)(err, err ? 0 : static_cast<std::size_t>(j.op.result));
}

// The scatter/gather list of a native read or write (the ring takes at most IOV_MAX).
template <class Buffer>
std::shared_ptr<native_job> native_rw(eddy::loop& loop, op_kind kind, const char* call, file f,
                                      std::span<const Buffer> bufs, std::int64_t offset) {
  if (bufs.size() > 1024) return nullptr;
  auto j = native_for(loop, kind, call);
  if (!j) return nullptr;
  io_vec* v = j->inline_vecs;
  if (bufs.size() > std::size(j->inline_vecs)) {
    j->more_vecs.resize(bufs.size());
    v = j->more_vecs.data();
  }
  for (std::size_t i = 0; i < bufs.size(); ++i) v[i] = {const_cast<std::byte*>(bufs[i].data()), bufs[i].size()};
  j->op.file = native(f);
  j->op.bufs = v;
  j->op.nbufs = static_cast<std::uint32_t>(bufs.size());
  j->op.offset = offset < 0 ? -1 : offset;
  return j;
}

request native_stat(eddy::loop& loop, std::shared_ptr<native_job> j, stat_callback cb) {
  j->op.out = &j->st;
  j->op.buf = {j->scratch, sizeof j->scratch};
  return submit(loop, std::move(j), std::move(cb),
                [](const error& err, native_job& job) { std::get<stat_callback>(job.cb)(err, job.st); });
}

request native_sync(eddy::loop& loop, std::shared_ptr<native_job> j, file f, bool data_only, done_callback cb) {
  j->op.file = native(f);
  j->op.flags = data_only ? eddy::detail::sync_data_only : 0;
  return submit(loop, std::move(j), std::move(cb), finish_done);
}

}  // namespace

std::string error::message() const {
  if (!code_) return {};
  std::string m = code_.message();
  m += ": ";
  m += syscall_;
  if (!path_.empty()) m += " '" + path_ + "'";
  if (!dest_.empty()) m += " -> '" + dest_ + "'";
  return m;
}

bool request::cancel() noexcept { return state_ && state_->work.cancel(); }

// ---------------------------------------------------------------- callback forms

request open(eddy::loop& loop, std::string_view path, open_flags flags, int mode, open_callback cb) {
  if (auto j = path.empty() ? nullptr : native_for(loop, op_kind::file_open, "open", path)) {
    j->op.flags = static_cast<std::uint32_t>(flags);
    j->op.mode = static_cast<std::uint32_t>(mode);
    return submit(loop, std::move(j), std::move(cb), [](const error& err, native_job& job) {
      std::get<open_callback>(job.cb)(err, err ? file::invalid : static_cast<file>(job.op.result));
    });
  }
  return run<std::tuple<file>>(
      loop, "open", path, {}, [flags, mode](auto& j) { return open(j.path, flags, mode, std::get<0>(j.values)); },
      std::move(cb));
}

request close(eddy::loop& loop, file f, done_callback cb) {
  if (auto j = native_for(loop, op_kind::file_close, "close")) {
    j->op.file = native(f);
    return submit(loop, std::move(j), std::move(cb), finish_done);
  }
  return run<none>(loop, "close", {}, {}, [f](auto&) { return close(f); }, std::move(cb));
}

request read(eddy::loop& loop, file f, std::span<const mutable_buffer> bufs, std::int64_t offset, size_callback cb) {
  if (auto j = native_rw(loop, op_kind::file_read, "read", f, bufs, offset)) {
    return submit(loop, std::move(j), std::move(cb), finish_size);
  }
  return run<std::tuple<std::size_t>>(
      loop, "read", {}, {},
      [f, v = to_vecs(bufs), offset](auto& j) {
        return fail(sys::read(native(f), v.data(), v.size(), offset, std::get<0>(j.values)), "read");
      },
      std::move(cb));
}

request write(eddy::loop& loop, file f, std::span<const const_buffer> bufs, std::int64_t offset, size_callback cb) {
  if (auto j = native_rw(loop, op_kind::file_write, "write", f, bufs, offset)) {
    return submit(loop, std::move(j), std::move(cb), finish_size);
  }
  return run<std::tuple<std::size_t>>(
      loop, "write", {}, {},
      [f, v = to_vecs(bufs), offset](auto& j) {
        return fail(sys::write(native(f), v.data(), v.size(), offset, std::get<0>(j.values)), "write");
      },
      std::move(cb));
}

request stat(eddy::loop& loop, std::string_view path, stat_callback cb) {
  if (auto j = path.empty() ? nullptr : native_for(loop, op_kind::file_stat, "stat", path)) {
    return native_stat(loop, std::move(j), std::move(cb));
  }
  return run<std::tuple<stat_info>>(
      loop, "stat", path, {}, [](auto& j) { return stat(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request lstat(eddy::loop& loop, std::string_view path, stat_callback cb) {
  if (auto j = path.empty() ? nullptr : native_for(loop, op_kind::file_stat, "lstat", path)) {
    j->op.flags = eddy::detail::stat_no_follow;
    return native_stat(loop, std::move(j), std::move(cb));
  }
  return run<std::tuple<stat_info>>(
      loop, "lstat", path, {}, [](auto& j) { return lstat(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request fstat(eddy::loop& loop, file f, stat_callback cb) {
  if (auto j = native_for(loop, op_kind::file_stat, "fstat")) {
    j->op.file = native(f);
    return native_stat(loop, std::move(j), std::move(cb));
  }
  return run<std::tuple<stat_info>>(
      loop, "fstat", {}, {}, [f](auto& j) { return fstat(f, std::get<0>(j.values)); }, std::move(cb));
}

request statfs(eddy::loop& loop, std::string_view path, statfs_callback cb) {
  return run<std::tuple<statfs_info>>(
      loop, "statfs", path, {}, [](auto& j) { return statfs(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request rename(eddy::loop& loop, std::string_view from, std::string_view to, done_callback cb) {
  return run<none>(loop, "rename", from, to, [](auto& j) { return rename(j.path, j.dest); }, std::move(cb));
}

request unlink(eddy::loop& loop, std::string_view path, done_callback cb) {
  return run<none>(loop, "unlink", path, {}, [](auto& j) { return unlink(j.path); }, std::move(cb));
}

request mkdir(eddy::loop& loop, std::string_view path, int mode, done_callback cb) {
  return run<none>(loop, "mkdir", path, {}, [mode](auto& j) { return mkdir(j.path, mode); }, std::move(cb));
}

request mkdtemp(eddy::loop& loop, std::string_view tmpl, path_callback cb) {
  return run<std::tuple<std::string>>(
      loop, "mkdtemp", tmpl, {}, [](auto& j) { return mkdtemp(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request mkstemp(eddy::loop& loop, std::string_view tmpl, mkstemp_callback cb) {
  return run<std::tuple<file, std::string>>(
      loop, "mkstemp", tmpl, {},
      [](auto& j) { return mkstemp(j.path, std::get<0>(j.values), std::get<1>(j.values)); }, std::move(cb));
}

request rmdir(eddy::loop& loop, std::string_view path, done_callback cb) {
  return run<none>(loop, "rmdir", path, {}, [](auto& j) { return rmdir(j.path); }, std::move(cb));
}

request scandir(eddy::loop& loop, std::string_view path, entries_callback cb) {
  return run<std::tuple<std::vector<dir_entry>>>(
      loop, "scandir", path, {}, [](auto& j) { return scandir(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request opendir(eddy::loop& loop, std::string_view path, dir_callback cb) {
  return run<std::tuple<dir>>(
      loop, "opendir", path, {}, [](auto& j) { return opendir(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request readdir(eddy::loop& loop, dir d, std::size_t max_entries, entries_callback cb) {
  return run<std::tuple<std::vector<dir_entry>>>(
      loop, "readdir", {}, {}, [d, max_entries](auto& j) { return readdir(d, max_entries, std::get<0>(j.values)); },
      std::move(cb));
}

request closedir(eddy::loop& loop, dir d, done_callback cb) {
  return run<none>(loop, "closedir", {}, {}, [d](auto&) { return closedir(d); }, std::move(cb));
}

request fsync(eddy::loop& loop, file f, done_callback cb) {
  if (auto j = native_for(loop, op_kind::file_sync, "fsync")) return native_sync(loop, std::move(j), f, false, std::move(cb));
  return run<none>(loop, "fsync", {}, {}, [f](auto&) { return fsync(f); }, std::move(cb));
}

request fdatasync(eddy::loop& loop, file f, done_callback cb) {
  if (auto j = native_for(loop, op_kind::file_sync, "fdatasync")) {
    return native_sync(loop, std::move(j), f, true, std::move(cb));
  }
  return run<none>(loop, "fdatasync", {}, {}, [f](auto&) { return fdatasync(f); }, std::move(cb));
}

request ftruncate(eddy::loop& loop, file f, std::int64_t length, done_callback cb) {
  return run<none>(loop, "ftruncate", {}, {}, [f, length](auto&) { return ftruncate(f, length); }, std::move(cb));
}

request copyfile(eddy::loop& loop, std::string_view from, std::string_view to, copy_flags flags, done_callback cb) {
  return run<none>(
      loop, "copyfile", from, to, [flags](auto& j) { return copyfile(j.path, j.dest, flags); }, std::move(cb));
}

request sendfile(eddy::loop& loop, file out, file in, std::int64_t in_offset, std::size_t length, size_callback cb) {
  return run<std::tuple<std::size_t>>(
      loop, "sendfile", {}, {},
      [out, in, in_offset, length](auto& j) { return sendfile(out, in, in_offset, length, std::get<0>(j.values)); },
      std::move(cb));
}

request access(eddy::loop& loop, std::string_view path, access_mode mode, done_callback cb) {
  return run<none>(loop, "access", path, {}, [mode](auto& j) { return access(j.path, mode); }, std::move(cb));
}

request chmod(eddy::loop& loop, std::string_view path, int mode, done_callback cb) {
  return run<none>(loop, "chmod", path, {}, [mode](auto& j) { return chmod(j.path, mode); }, std::move(cb));
}

request fchmod(eddy::loop& loop, file f, int mode, done_callback cb) {
  return run<none>(loop, "fchmod", {}, {}, [f, mode](auto&) { return fchmod(f, mode); }, std::move(cb));
}

request chown(eddy::loop& loop, std::string_view path, std::uint32_t uid, std::uint32_t gid, done_callback cb) {
  return run<none>(loop, "chown", path, {}, [uid, gid](auto& j) { return chown(j.path, uid, gid); }, std::move(cb));
}

request fchown(eddy::loop& loop, file f, std::uint32_t uid, std::uint32_t gid, done_callback cb) {
  return run<none>(loop, "fchown", {}, {}, [f, uid, gid](auto&) { return fchown(f, uid, gid); }, std::move(cb));
}

request utime(eddy::loop& loop, std::string_view path, std::int64_t atime_ns, std::int64_t mtime_ns,
              done_callback cb) {
  return run<none>(
      loop, "utime", path, {}, [atime_ns, mtime_ns](auto& j) { return utime(j.path, atime_ns, mtime_ns); },
      std::move(cb));
}

request futime(eddy::loop& loop, file f, std::int64_t atime_ns, std::int64_t mtime_ns, done_callback cb) {
  return run<none>(
      loop, "futime", {}, {}, [f, atime_ns, mtime_ns](auto&) { return futime(f, atime_ns, mtime_ns); },
      std::move(cb));
}

request link(eddy::loop& loop, std::string_view existing, std::string_view new_path, done_callback cb) {
  return run<none>(loop, "link", existing, new_path, [](auto& j) { return link(j.path, j.dest); }, std::move(cb));
}

request symlink(eddy::loop& loop, std::string_view target, std::string_view path, symlink_flags flags,
                done_callback cb) {
  return run<none>(
      loop, "symlink", target, path, [flags](auto& j) { return symlink(j.path, j.dest, flags); }, std::move(cb));
}

request readlink(eddy::loop& loop, std::string_view path, path_callback cb) {
  return run<std::tuple<std::string>>(
      loop, "readlink", path, {}, [](auto& j) { return readlink(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request realpath(eddy::loop& loop, std::string_view path, path_callback cb) {
  return run<std::tuple<std::string>>(
      loop, "realpath", path, {}, [](auto& j) { return realpath(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request read_file(eddy::loop& loop, std::string_view path, data_callback cb) {
  return run<std::tuple<std::string>>(
      loop, "read_file", path, {}, [](auto& j) { return read_file(j.path, std::get<0>(j.values)); }, std::move(cb));
}

request write_file(eddy::loop& loop, std::string_view path, std::string_view data, done_callback cb) {
  return run<none>(
      loop, "write_file", path, {}, [data = std::string(data)](auto& j) { return write_file(j.path, data); },
      std::move(cb));
}

}  // namespace eddy::fs
