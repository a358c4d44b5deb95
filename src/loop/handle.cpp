#include "eddy/handle.hpp"

#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {

handle_base::handle_base(loop_impl& loop, handle_type type) noexcept : loop_(loop), type_(type) {
  loop_.handles_.push_back(*this);
  ++loop_.handle_count_;
}

handle_base::~handle_base() = default;

void handle_base::set_active(bool active) noexcept {
  if (active == active_) return;
  active_ = active;
  if (ref_) {
    if (active) {
      ++loop_.active_ref_handles_;
    } else {
      --loop_.active_ref_handles_;
    }
  }
}

void handle_base::set_ref(bool ref) noexcept {
  if (ref == ref_) return;
  ref_ = ref;
  if (active_) {
    if (ref) {
      ++loop_.active_ref_handles_;
    } else {
      --loop_.active_ref_handles_;
    }
  }
}

void handle_base::start_close(std::function<void()> cb) {
  if (closing_) return;
  closing_ = true;
  close_cb_ = std::move(cb);
  on_close();
  set_active(false);
  if (!busy()) {
    queue_for_close();
  } else {
    // Its operations are still coming back: that keeps the loop alive (loop_impl::alive).
    waiting_for_ops_ = true;
    ++loop_.closing_busy_;
  }
}

void handle_base::queue_for_close() noexcept {
  if (waiting_for_ops_) {
    waiting_for_ops_ = false;
    --loop_.closing_busy_;
  }
  if (!static_cast<list_node<closing_tag>&>(*this).linked()) loop_.closing_.push_back(*this);
}

}  // namespace detail

handle::handle(eddy::loop& owner, detail::handle_base* impl, handle_type type) noexcept
    : impl_(impl), loop_(&owner), type_(type) {
  impl_->set_owner(this);
}

handle::~handle() {
  if (impl_ != nullptr) {
    impl_->detach_owner();
    impl_->start_close({});
  }
}

void handle::ref() noexcept {
  if (impl_ != nullptr) impl_->set_ref(true);
}
void handle::unref() noexcept {
  if (impl_ != nullptr) impl_->set_ref(false);
}
bool handle::has_ref() const noexcept { return impl_ != nullptr && impl_->ref_; }
bool handle::is_active() const noexcept { return impl_ != nullptr && impl_->active_; }
bool handle::is_closing() const noexcept { return impl_ == nullptr || impl_->closing_; }

void handle::close(std::function<void()> on_close) {
  if (impl_ != nullptr) impl_->start_close(std::move(on_close));
}

}  // namespace eddy
