/* libuv's side of the benchmark harness's micro workloads: the same modes, sizes and output
 * as eddy_micro.cpp (see there for the list). */
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t* loop;

static void fail(const char* what, int err) {
  fprintf(stderr, "uv_micro: %s: %s\n", what, uv_strerror(err));
  exit(1);
}

static double ms_between(uint64_t t0, uint64_t t1) { return (double)(t1 - t0) / 1e6; }

static void report(const char* unit, double value, double ms) {
  printf("{\"value\": %.6g, \"unit\": \"%s\", \"ms\": %.3f, \"backend\": \"libuv\"}\n", value, unit, ms);
}

/* ------------------------------------------------------------------ timers */
static int fired, closed;
static void on_timer(uv_timer_t* t) { (void)t, ++fired; }
static void on_timer_closed(uv_handle_t* h) { (void)h, ++closed; }

static int timers(int n) {
  uv_timer_t* ts = malloc(sizeof *ts * (size_t)n);
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; ++i) {
    uv_timer_init(loop, &ts[i]);
    uv_timer_start(&ts[i], on_timer, (uint64_t)(1 + i / (n / 10)), 0);
  }
  uint64_t t1 = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t2 = uv_hrtime();
  for (int i = 0; i < n; ++i) uv_close((uv_handle_t*)&ts[i], on_timer_closed);
  uv_run(loop, UV_RUN_DEFAULT);
  free(ts);
  uint64_t t3 = uv_hrtime();
  if (fired != n || closed != n) return 1;
  printf("{\"value\": %.3f, \"unit\": \"ms\", \"start_ms\": %.3f, \"run_ms\": %.3f, \"close_ms\": %.3f}\n",
         ms_between(t0, t3), ms_between(t0, t1), ms_between(t1, t2), ms_between(t2, t3));
  return 0;
}

/* ------------------------------------------------------------------ queue_work */
static int works_done;
static void work_cb(uv_work_t* w) { (void)w; }
static void after_work(uv_work_t* w, int status) {
  if (status) fail("queue_work", status);
  free(w);
  ++works_done;
}

static int work(int n) {
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; ++i) uv_queue_work(loop, malloc(sizeof(uv_work_t)), work_cb, after_work);
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  if (works_done != n) return 1;
  report("jobs/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1));
  return 0;
}

/* ------------------------------------------------------------------ async */
static sem_t ack;
static int async_n, async_seen;
static uint64_t async_t0, async_t1;
static uv_async_t async_handle;

static void on_async(uv_async_t* a) {
  sem_post(&ack);
  if (++async_seen == async_n) uv_close((uv_handle_t*)a, NULL);
}

static void sender(void* arg) {
  (void)arg;
  async_t0 = uv_hrtime();
  for (int i = 0; i < async_n; ++i) {
    uv_async_send(&async_handle);
    sem_wait(&ack);
  }
  async_t1 = uv_hrtime();
}

static int async_wakeups(int n) {
  async_n = n;
  sem_init(&ack, 0, 0);
  uv_async_init(loop, &async_handle, on_async);
  uv_thread_t t;
  uv_thread_create(&t, sender, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_thread_join(&t);
  report("wakeups/s", n / (ms_between(async_t0, async_t1) / 1e3), ms_between(async_t0, async_t1));
  return 0;
}

/* ------------------------------------------------------------------ dns */
static int dns_n, dns_started, dns_done;
static void dns_next(void);
static void on_lookup(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  if (status) fail("getaddrinfo localhost", status);
  uv_freeaddrinfo(res);
  free(req);
  ++dns_done;
  if (dns_started < dns_n) dns_next();
}
static void dns_next(void) {
  ++dns_started;
  /* The same call eddy's dns::lookup makes with default hints (platform/posix/resolver.cpp):
   * any family, SOCK_STREAM (one entry per address), AI_ADDRCONFIG. */
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  int r = uv_getaddrinfo(loop, malloc(sizeof(uv_getaddrinfo_t)), on_lookup, "localhost", NULL, &hints);
  if (r) fail("getaddrinfo", r);
}

static int dns(int n, int inflight) {
  dns_n = n;
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < inflight && i < n; ++i) dns_next();
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  if (dns_done != n) return 1;
  report("lookups/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1));
  return 0;
}

/* ------------------------------------------------------------------ spawn */
static int spawn_n, spawn_started, spawn_exited;
static void spawn_next(void);
static void on_child_closed(uv_handle_t* h) { free(h); }
static void on_child_exit(uv_process_t* p, int64_t status, int sig) {
  if (status != 0 || sig != 0) fail("/bin/true", UV_EIO);
  ++spawn_exited;
  uv_close((uv_handle_t*)p, on_child_closed);
  if (spawn_started < spawn_n) spawn_next();
}
static void spawn_next(void) {
  static char* args[] = {"/bin/true", NULL};
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = args[0];
  o.args = args;
  o.exit_cb = on_child_exit; /* no stdio entries: the child's 0..2 are /dev/null, as eddy's ignore */
  ++spawn_started;
  uv_process_t* p = malloc(sizeof *p);
  int r = uv_spawn(loop, p, &o);
  if (r) fail("spawn /bin/true", r);
}

static int spawn(int n, int inflight) {
  spawn_n = n;
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < inflight && i < n; ++i) spawn_next();
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  if (spawn_exited != n) return 1;
  report("spawns/s", n / (ms_between(t0, t1) / 1e3), ms_between(t0, t1));
  return 0;
}

/* ------------------------------------------------------------------ tcp */
static uv_tcp_t listener;
static char read_buffer[65536];

static void alloc_static(uv_handle_t* h, size_t s, uv_buf_t* b) {
  (void)h, (void)s;
  *b = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void listen_any(uv_connection_cb cb) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &listener);
  int r = uv_tcp_bind(&listener, (const struct sockaddr*)&a, 0);
  if (r == 0) r = uv_listen((uv_stream_t*)&listener, 1024, cb);
  if (r) fail("listen", r);
  struct sockaddr_in b;
  int len = sizeof b;
  uv_tcp_getsockname(&listener, (struct sockaddr*)&b, &len);
  printf("listening on %d\n", ntohs(b.sin_port));
  fflush(stdout);
}

static uv_tcp_t* accept_one(uv_stream_t* s, int status) {
  if (status) fail("listen", status);
  uv_tcp_t* c = malloc(sizeof *c);
  uv_tcp_init(loop, c);
  int r = uv_accept(s, (uv_stream_t*)c);
  if (r) fail("accept", r);
  uv_tcp_nodelay(c, 1);
  return c;
}

static void free_handle(uv_handle_t* h) { free(h); }

struct echo_write {
  uv_write_t req;
  char data[];
};
static void on_echo_written(uv_write_t* w, int status) {
  (void)status;
  free(w);
}
static void on_echo_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  if (n < 0) {
    uv_close((uv_handle_t*)s, free_handle);
    return;
  }
  if (n == 0) return;
  struct echo_write* w = malloc(sizeof *w + (size_t)n);
  memcpy(w->data, b->base, (size_t)n);
  uv_buf_t out = uv_buf_init(w->data, (unsigned)n);
  uv_write(&w->req, s, &out, 1, on_echo_written);
}
static void on_echo_connection(uv_stream_t* s, int status) {
  uv_read_start((uv_stream_t*)accept_one(s, status), alloc_static, on_echo_read);
}

static uv_tcp_t client;
static uv_connect_t connect_req;
static double seconds;
static uint64_t t0, t1, counter, deadline;

static void connect_to(int port, uv_connect_cb cb) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_tcp_init(loop, &client);
  int r = uv_tcp_connect(&connect_req, &client, (const struct sockaddr*)&a, cb);
  if (r) fail("connect", r);
}

/* pingpong: one 64-byte message in flight */
#define PING_SIZE 64
static char ping_message[PING_SIZE];
static size_t ping_got;
static uv_write_t ping_write;
static void on_ping_written(uv_write_t* w, int status) {
  (void)w;
  if (status && status != UV_ECANCELED) fail("write", status);
}
static void send_ping(void) {
  uv_buf_t b = uv_buf_init(ping_message, PING_SIZE);
  uv_write(&ping_write, (uv_stream_t*)&client, &b, 1, on_ping_written);
}
static void on_pong(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  (void)b;
  if (n < 0) fail("read", (int)n);
  ping_got += (size_t)n;
  if (ping_got < PING_SIZE) return;
  ping_got -= PING_SIZE;
  ++counter;
  if ((counter & 63) == 0 && uv_hrtime() - t0 >= deadline) {
    t1 = uv_hrtime();
    uv_close((uv_handle_t*)s, NULL);
    return;
  }
  send_ping();
}
static void on_ping_connected(uv_connect_t* req, int status) {
  (void)req;
  if (status) fail("connect", status);
  uv_tcp_nodelay(&client, 1);
  memset(ping_message, 'p', PING_SIZE);
  t0 = uv_hrtime();
  send_ping();
  uv_read_start((uv_stream_t*)&client, alloc_static, on_pong);
}

/* pump: 256 KiB chunks, 4 in flight */
#define CHUNK (256 * 1024)
static char chunk[CHUNK];
static int ending;
static uv_shutdown_t shutdown_req;
static void on_shut(uv_shutdown_t* r, int status) {
  (void)status;
  uv_close((uv_handle_t*)r->handle, NULL);
}
static void write_chunk(uv_write_t* w);
static void on_chunk_written(uv_write_t* w, int status) {
  if (status) fail("write", status);
  if (ending) {
    free(w);
    return;
  }
  if (uv_hrtime() - t0 >= deadline) {
    ending = 1;
    free(w);
    uv_shutdown(&shutdown_req, (uv_stream_t*)&client, on_shut);
    return;
  }
  write_chunk(w);
}
static void write_chunk(uv_write_t* w) {
  uv_buf_t b = uv_buf_init(chunk, CHUNK);
  uv_write(w, (uv_stream_t*)&client, &b, 1, on_chunk_written);
}
static void on_pump_connected(uv_connect_t* req, int status) {
  (void)req;
  if (status) fail("connect", status);
  uv_tcp_nodelay(&client, 1);
  memset(chunk, 'x', CHUNK);
  t0 = uv_hrtime();
  for (int i = 0; i < 4; ++i) write_chunk(malloc(sizeof(uv_write_t)));
}

static void on_pump_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  (void)b;
  if (n == UV_EOF) {
    t1 = uv_hrtime();
    uv_close((uv_handle_t*)s, free_handle);
    return;
  }
  if (n < 0) fail("read", (int)n);
  if (counter == 0 && n > 0) t0 = uv_hrtime();
  counter += (uint64_t)n;
}
static void on_pump_connection(uv_stream_t* s, int status) {
  uv_read_start((uv_stream_t*)accept_one(s, status), alloc_static, on_pump_read);
  uv_close((uv_handle_t*)&listener, NULL);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: uv_micro MODE ARGS... (see eddy_micro.cpp)\n");
    return 2;
  }
  loop = uv_default_loop();
  const char* mode = argv[1];
  double a2 = argc > 2 ? atof(argv[2]) : 0, a3 = argc > 3 ? atof(argv[3]) : 0;
  if (strcmp(mode, "timers") == 0) return timers((int)a2);
  if (strcmp(mode, "work") == 0) return work((int)a2);
  if (strcmp(mode, "async") == 0) return async_wakeups((int)a2);
  if (strcmp(mode, "dns") == 0) return dns((int)a2, (int)a3);
  if (strcmp(mode, "spawn") == 0) return spawn((int)a2, (int)a3);
  if (strcmp(mode, "echo-server") == 0) {
    listen_any(on_echo_connection);
    return uv_run(loop, UV_RUN_DEFAULT);
  }
  if (strcmp(mode, "pingpong") == 0) {
    seconds = a3;
    deadline = (uint64_t)(seconds * 1e9);
    connect_to((int)a2, on_ping_connected);
    uv_run(loop, UV_RUN_DEFAULT);
    report("trips/s", (double)counter / (ms_between(t0, t1) / 1e3), ms_between(t0, t1));
    return 0;
  }
  if (strcmp(mode, "pump-server") == 0) {
    listen_any(on_pump_connection);
    uv_run(loop, UV_RUN_DEFAULT);
    report("GB/s", (double)counter / (double)(t1 - t0), ms_between(t0, t1));
    return 0;
  }
  if (strcmp(mode, "pump") == 0) {
    deadline = (uint64_t)(a3 * 1e9);
    connect_to((int)a2, on_pump_connected);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("{}\n");
    return 0;
  }
  fprintf(stderr, "uv_micro: unknown mode %s\n", mode);
  return 2;
}
