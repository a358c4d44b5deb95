/* The hello_http server on raw io_uring (liburing), as small as it can be: the "physical
 * limit" peer for eddy's io_uring port. Multishot accept; per connection one recv at a time;
 * the answers to a read go out in one sendmsg (MSG_WAITALL: complete or failed), linked to
 * the next recv so both are submitted together. The ring is set up with SINGLE_ISSUER and
 * DEFER_TASKRUN where the kernel has them (COOP_TASKRUN otherwise).
 * Usage: uring_http [--port N] */
#include <errno.h>
#include <liburing.h>
#include <stdint.h>

#include "peer_common.h"

enum { OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2 };

struct conn {
  int fd;
  int dead; /* the send failed: free when the cancelled recv comes back */
  int close_after;
  size_t sending;
  struct peer_input in;
  struct msghdr msg;
};

static struct io_uring ring;
static int listen_fd;

static struct io_uring_sqe* sqe_get(void) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  while (sqe == NULL) {
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

static void arm_accept(void) {
  struct io_uring_sqe* sqe = sqe_get();
  io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
  io_uring_sqe_set_data64(sqe, OP_ACCEPT);
}

static void arm_recv(struct conn* c, unsigned flags) {
  struct io_uring_sqe* sqe = sqe_get();
  io_uring_prep_recv(sqe, c->fd, peer_input_reserve(&c->in), PEER_READ_SIZE, 0);
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_RECV);
  sqe->flags |= flags;
}

static void conn_free(struct conn* c) {
  close(c->fd);
  peer_input_free(&c->in);
  free(c);
}

static void on_recv(struct conn* c, int res) {
  if (c->dead || res <= 0) {
    conn_free(c);
    return;
  }
  size_t count = peer_input_answer(&c->in, (size_t)res, &c->close_after);
  if (count == 0) {
    arm_recv(c, 0);
    return;
  }
  c->sending = 0;
  for (size_t i = 0; i < count; ++i) c->sending += c->in.iov[i].iov_len;
  memset(&c->msg, 0, sizeof c->msg);
  c->msg.msg_iov = c->in.iov;
  c->msg.msg_iovlen = count;
  struct io_uring_sqe* sqe = sqe_get();
  io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_WAITALL | MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_SEND);
  if (!c->close_after) {
    sqe->flags |= IOSQE_IO_LINK;
    arm_recv(c, 0);
  }
}

static void on_send(struct conn* c, int res) {
  if (res < 0 || (size_t)res != c->sending) {
    if (c->close_after) conn_free(c);
    else c->dead = 1; /* the linked recv comes back cancelled */
    return;
  }
  if (c->close_after) {
    shutdown(c->fd, SHUT_WR);
    conn_free(c);
  }
}

int main(int argc, char** argv) {
  listen_fd = peer_listen(peer_port(argc, argv), 0);
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(4096, &ring, &p) < 0) {
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_COOP_TASKRUN;
    int r = io_uring_queue_init_params(4096, &ring, &p);
    if (r < 0) {
      errno = -r;
      peer_die("io_uring_queue_init");
    }
  }
  arm_accept();
  peer_announce(listen_fd);
  for (;;) {
    int r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR) {
      errno = -r;
      peer_die("io_uring_submit_and_wait");
    }
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      uint64_t data = io_uring_cqe_get_data64(cqe);
      struct conn* c = (struct conn*)(uintptr_t)(data & ~(uint64_t)3);
      switch (data & 3) {
        case OP_ACCEPT:
          if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
          if (cqe->res >= 0) {
            c = (struct conn*)calloc(1, sizeof *c);
            c->fd = cqe->res;
            peer_nodelay(c->fd);
            arm_recv(c, 0);
          }
          break;
        case OP_RECV:
          on_recv(c, cqe->res);
          break;
        case OP_SEND:
          on_send(c, cqe->res);
          break;
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
