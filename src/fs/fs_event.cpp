// eddy::fs_event: a watch (platform/contract/fs_event.hpp) read through the port like any io object.
// Each start() opens a watch record with its own io object, read operation and buffer;
// stop() cancels the read and the record's watch is closed when the read is back. Records
// are reused by later starts and freed with the handle: a port may look at an io object for
// the rest of the poll that delivered its last operation (epoll does).
#include "eddy/fs_event.hpp"

#include <memory>
#include <vector>

#include "loop/loop_impl.hpp"
#include "platform/contract/fs_event.hpp"

namespace eddy {
namespace detail {

class fs_event_impl final : public handle_base {
 public:
  explicit fs_event_impl(loop_impl& loop) noexcept : handle_base(loop, handle_type::fs_event) {}

  [[nodiscard]] bool busy() const noexcept override { return ops_in_flight_ != 0; }
  void on_close() noexcept override { stop(); }

  std::error_code start(std::string_view path, fs_event_callback cb) {
    if (closing_) return make_error_code(errc::closed);
    if (current_ != nullptr) return make_error_code(errc::already_started);
    watch* w = spare();
    if (auto ec = contract::fs_event::open(std::string(path), w->t)) return ec;
    w->io = io_object{};
    w->io.native = w->t.native;
    w->io.kind = w->t.kind;
    if (auto ec = loop_.port_attach(w->io)) {
      contract::fs_event::close(w->t);
      return ec;
    }
    w->attached = true;
    w->op = operation{};
    w->op.owner = w;
    w->op.io = &w->io;
    w->op.kind = op_kind::read;
    w->op.acquire = &acquire;
    w->op.complete = &on_read;
    current_ = w;
    path_ = std::string(path);
    cb_ = std::move(cb);
    ++cb_generation_;
    set_active(true);
    read(*w);
    return {};
  }

  void stop() noexcept {
    watch* w = current_;
    if (w == nullptr) return;
    current_ = nullptr;
    path_.clear();
    set_active(false);
    if (w->op.in_flight) {
      loop_.cancel(w->op);  // closed when the read is back
    } else {
      finish(*w);
    }
  }

  std::string path_;

 private:
  struct watch {
    fs_event_impl* owner = nullptr;
    contract::fs_event::target t;
    io_object io;
    operation op;
    std::unique_ptr<std::byte[]> buf{new std::byte[contract::fs_event::buffer_size]};  // operator new's alignment
    bool attached = false;
  };

  watch* spare() {
    for (auto& w : watches_) {
      if (w.get() != current_ && !w->op.in_flight && !w->attached) return w.get();
    }
    watches_.push_back(std::make_unique<watch>());
    watches_.back()->owner = this;
    return watches_.back().get();
  }

  void read(watch& w) noexcept {
    ++ops_in_flight_;
    loop_.submit(w.op);
  }

  // Every operation on w is back: end its watch.
  void finish(watch& w) noexcept {
    if (!w.attached) return;
    loop_.port_detach(w.io);
    w.attached = false;
    contract::fs_event::close(w.t);
  }

  static io_vec acquire(operation* op) {
    auto& w = *static_cast<watch*>(op->owner);
    return {w.buf.get(), contract::fs_event::buffer_size};
  }

  static void on_read(operation* op) {
    auto& w = *static_cast<watch*>(op->owner);
    fs_event_impl& h = *w.owner;
    --h.ops_in_flight_;
    if (h.current_ != &w) {  // stopped meanwhile
      h.finish(w);
    } else if (op->error) {
      // The watch broke (or the port cannot read it): say so once, then stop.
      const std::error_code ec = op->error;
      h.stop();
      h.notify(ec, {}, 0);
    } else {
      h.changes_.clear();
      contract::fs_event::parse(w.t, w.buf.get(), static_cast<std::size_t>(op->result), h.changes_);
      h.read(w);  // keep reading before the callbacks, which may stop (cancelling it)
      std::vector<contract::fs_event::change> batch;
      batch.swap(h.changes_);
      for (const auto& c : batch) {
        if (h.current_ != &w) break;  // stop() inside a callback: nothing more
        h.notify({}, c.filename, c.events);
      }
    }
    if (h.closing_ && h.ops_in_flight_ == 0) h.queue_for_close();
  }

  // The callback may stop and start the watch again with a new callback: it runs from a
  // local, so that start() does not destroy it while it runs.
  void notify(std::error_code ec, std::string_view name, unsigned events) {
    if (!cb_) return;
    const std::uint32_t generation = cb_generation_;
    fs_event_callback fn = std::move(cb_);
    loop_.invoke(this, [&] { fn(ec, name, events); });
    if (cb_generation_ == generation) cb_ = std::move(fn);
  }

  std::vector<std::unique_ptr<watch>> watches_;
  watch* current_ = nullptr;
  fs_event_callback cb_;
  std::uint32_t cb_generation_ = 0;  // counts start()s: deliver() keeps a callback replaced meanwhile
  std::vector<contract::fs_event::change> changes_;
  std::uint32_t ops_in_flight_ = 0;
};

}  // namespace detail

namespace {
detail::fs_event_impl* as_fs_event(detail::handle_base* h) noexcept { return static_cast<detail::fs_event_impl*>(h); }
}  // namespace

fs_event::fs_event(eddy::loop& owner) : handle(owner, new detail::fs_event_impl(owner.impl()), handle_type::fs_event) {}

std::error_code fs_event::start(std::string_view path, fs_event_callback cb) {
  auto* h = as_fs_event(impl_);
  return h == nullptr ? make_error_code(errc::closed) : h->start(path, std::move(cb));
}

void fs_event::stop() noexcept {
  if (auto* h = as_fs_event(impl_)) h->stop();
}

std::string fs_event::path() const {
  auto* h = as_fs_event(impl_);
  return h == nullptr ? std::string() : h->path_;
}

}  // namespace eddy
