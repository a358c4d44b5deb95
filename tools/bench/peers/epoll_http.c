/* The hello_http server on raw epoll, as small as it can be: the "physical limit" peer for
 * eddy's epoll port. Level-triggered, one read per readiness, one writev per read; a write
 * the kernel does not take whole waits for EPOLLOUT (reading pauses until it is done).
 * Usage: epoll_http [--port N] */
#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>

#include "peer_common.h"

struct conn {
  int fd;
  struct peer_input in;
  char* out; /* bytes a short writev left behind */
  size_t out_len, out_off;
  int close_after;
};

static int ep;

static void conn_close(struct conn* c) {
  close(c->fd); /* also removes it from the epoll set */
  peer_input_free(&c->in);
  free(c->out);
  free(c);
}

static void set_events(struct conn* c, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* After everything is written: close if asked to. Returns 0 when c is gone. */
static int written(struct conn* c) {
  if (c->close_after) {
    shutdown(c->fd, SHUT_WR);
    conn_close(c);
    return 0;
  }
  return 1;
}

static void on_writable(struct conn* c) {
  ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
  if (n < 0 && errno == EAGAIN) return;
  if (n < 0) {
    conn_close(c);
    return;
  }
  c->out_off += (size_t)n;
  if (c->out_off < c->out_len) return;
  c->out_len = c->out_off = 0;
  if (written(c)) set_events(c, EPOLLIN);
}

static void on_readable(struct conn* c) {
  ssize_t n = read(c->fd, peer_input_reserve(&c->in), PEER_READ_SIZE);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    conn_close(c);
    return;
  }
  size_t count = peer_input_answer(&c->in, (size_t)n, &c->close_after);
  if (count == 0) return;
  struct iovec* iov = c->in.iov;
  ssize_t w = writev(c->fd, iov, (int)(count < IOV_MAX ? count : IOV_MAX));
  if (w < 0 && errno != EAGAIN) {
    conn_close(c);
    return;
  }
  size_t done = w < 0 ? 0 : (size_t)w, total = 0;
  for (size_t i = 0; i < count; ++i) total += iov[i].iov_len;
  if (done == total) {
    written(c);
    return;
  }
  /* Keep the rest and wait until the socket takes more. */
  c->out = (char*)realloc(c->out, total - done);
  for (size_t i = 0, at = 0; i < count; at += iov[i].iov_len, ++i) {
    size_t from = done > at ? done - at : 0;
    if (from < iov[i].iov_len) {
      memcpy(c->out + c->out_len, (char*)iov[i].iov_base + from, iov[i].iov_len - from);
      c->out_len += iov[i].iov_len - from;
    }
  }
  set_events(c, EPOLLOUT);
}

int main(int argc, char** argv) {
  int lfd = peer_listen(peer_port(argc, argv), SOCK_NONBLOCK);
  ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  peer_announce(lfd);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) peer_die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      struct conn* c = (struct conn*)events[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          peer_nodelay(fd);
          c = (struct conn*)calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
      } else if (events[i].events & EPOLLOUT) {
        on_writable(c);
      } else {
        on_readable(c);
      }
    }
  }
}
