/* The hello_http server on libuv: the same request handling and response bytes as eddy's
 * samples/hello_http (hello_parse.h). Each read's answers go out in one uv_write of the
 * static response strings.
 *
 * Memory as a careful libuv user keeps it: reads land in one loop-wide 64 KiB slab, and a
 * connection keeps bytes of its own only for a request split across reads (freed as soon as
 * it is answered). The answers' iovec array is loop-wide too: uv_write copies it.
 * Usage: uv_http [--port N] */
#include <uv.h>

#include "peer_common.h"

struct conn {
  uv_tcp_t tcp;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  struct peer_input in;
  int close_after;
  int write_busy;
};

static uv_loop_t* loop;
static uv_tcp_t server;
static char slab[PEER_READ_SIZE];
static struct iovec* answers; /* loop-wide; grown by peer_input_answer */
static size_t answers_cap;

static void on_closed(uv_handle_t* h) {
  struct conn* c = (struct conn*)h;
  peer_input_free(&c->in);
  free(c);
}

static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)suggested;
  struct conn* c = (struct conn*)h;
  /* The slab unless part of a request waits: then after those bytes, in the connection's own. */
  buf->base = c->in.len == 0 ? slab : peer_input_reserve(&c->in);
  buf->len = PEER_READ_SIZE;
}

/* Answers what arrived in the slab or after the connection's own bytes; keeps an incomplete
 * request in the connection's buffer and frees that buffer once nothing waits in it. */
static size_t answer(struct conn* c, const uv_buf_t* buf, size_t n) {
  struct peer_input view = {slab, 0, PEER_READ_SIZE, answers, answers_cap};
  struct peer_input* in = buf->base == slab ? &view : &c->in;
  in->iov = answers;
  in->iov_cap = answers_cap;
  size_t count = peer_input_answer(in, n, &c->close_after);
  answers = in->iov;
  answers_cap = in->iov_cap;
  c->in.iov = NULL;
  c->in.iov_cap = 0;
  if (in == &view && view.len != 0) {
    /* A request split across reads: its start moves to the connection's own buffer. */
    memcpy(peer_input_reserve(&c->in), slab, view.len);
    c->in.len = view.len;
  } else if (in == &c->in && c->in.len == 0) {
    free(c->in.data);
    c->in.data = NULL;
    c->in.cap = 0;
  }
  return count;
}

static void on_shutdown(uv_shutdown_t* req, int status) {
  (void)status;
  uv_close((uv_handle_t*)req->handle, on_closed);
}

static void on_written(uv_write_t* req, int status) {
  (void)status;
  struct conn* c = (struct conn*)req->handle;
  if (req == &c->write_req) c->write_busy = 0;
  else free(req);
}

static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  struct conn* c = (struct conn*)s;
  if (n < 0) {
    uv_close((uv_handle_t*)s, on_closed);
    return;
  }
  if (n == 0) return;
  size_t count = answer(c, buf, (size_t)n);
  if (count == 0) return;
  /* uv_buf_t and struct iovec have the same layout on Unix; libuv copies the array, and the
   * responses are static strings. A write still queued from an earlier read keeps its request,
   * so this one gets its own. */
  uv_write_t* req = &c->write_req;
  if (c->write_busy) req = (uv_write_t*)malloc(sizeof *req);
  else c->write_busy = 1;
  uv_write(req, s, (const uv_buf_t*)answers, (unsigned)count, on_written);
  if (c->close_after) {
    uv_read_stop(s);
    uv_shutdown(&c->shutdown_req, s, on_shutdown);
  }
}

static void on_connection(uv_stream_t* srv, int status) {
  if (status < 0) return;
  struct conn* c = (struct conn*)calloc(1, sizeof *c);
  uv_tcp_init(loop, &c->tcp);
  if (uv_accept(srv, (uv_stream_t*)&c->tcp) != 0) {
    uv_close((uv_handle_t*)&c->tcp, on_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read);
}

int main(int argc, char** argv) {
  loop = uv_default_loop();
  uv_tcp_init(loop, &server);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", peer_port(argc, argv), &addr);
  if (uv_tcp_bind(&server, (const struct sockaddr*)&addr, 0) != 0) peer_die("bind");
  int r = uv_listen((uv_stream_t*)&server, 1024, on_connection);
  if (r != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(r));
    return 1;
  }
  uv_os_fd_t fd;
  uv_fileno((uv_handle_t*)&server, &fd);
  peer_announce(fd);
  return uv_run(loop, UV_RUN_DEFAULT);
}
