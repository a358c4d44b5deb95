/* Small pieces the C benchmark peers share: the command line (--port N), the listening
 * socket, the "listening on" line the harness waits for, and a connection's input buffer
 * with the answers for what it holds (hello_parse.h). */
#ifndef EDDY_BENCH_PEER_COMMON_H
#define EDDY_BENCH_PEER_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hello_parse.h"

#define PEER_READ_SIZE 65536

static inline int peer_port(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (strcmp(argv[i], "--port") == 0) return atoi(argv[i + 1]);
  return 8080;
}

static inline void peer_die(const char* what) {
  perror(what);
  exit(1);
}

/* A listening socket on 127.0.0.1:port (0: any free port); flags go to socket(). */
static inline int peer_listen(int port, int flags) {
  int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
  if (fd < 0) peer_die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) < 0) peer_die("bind");
  if (listen(fd, 1024) < 0) peer_die("listen");
  return fd;
}

/* Prints the line the harness waits for (the same as hello_http's). */
static inline void peer_announce(int listen_fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(listen_fd, (struct sockaddr*)&a, &len);
  printf("listening on http://127.0.0.1:%d\n", ntohs(a.sin_port));
  fflush(stdout);
}

static inline void peer_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* What a connection has read and not answered yet, and the answers for the last read. */
struct peer_input {
  char* data;
  size_t len, cap;
  struct iovec* iov; /* answers: static strings */
  size_t iov_cap;
};

/* Room for one more read of PEER_READ_SIZE bytes at data + len. */
static inline char* peer_input_reserve(struct peer_input* in) {
  if (in->cap - in->len < PEER_READ_SIZE) {
    in->cap = in->len + PEER_READ_SIZE;
    in->data = (char*)realloc(in->data, in->cap);
    if (!in->data) peer_die("realloc");
  }
  return in->data + in->len;
}

/* After n more bytes arrived: fills in->iov with the answers for every complete request, in
 * order, and drops what they answered. Returns the number of iovecs; *close_after is set
 * when the connection closes once they are written. */
static inline size_t peer_input_answer(struct peer_input* in, size_t n, int* close_after) {
  in->len += n;
  size_t most = in->len / 16 + 1; /* the shortest request is 16 bytes: "A / HTTP/1.1\r\n\r\n" */
  if (in->iov_cap < most) {
    in->iov_cap = most;
    in->iov = (struct iovec*)realloc(in->iov, most * sizeof *in->iov);
    if (!in->iov) peer_die("realloc");
  }
  const char* answers[64];
  size_t lengths[64], consumed = 0, count = 0;
  /* hello_answer_all in chunks of 64 answers; the chunks follow each other in the input. */
  for (;;) {
    size_t used = 0;
    size_t k = hello_answer_all(in->data + consumed, in->len - consumed, answers, lengths, 64, &used, close_after);
    for (size_t i = 0; i < k; ++i) {
      in->iov[count].iov_base = (void*)answers[i];
      in->iov[count].iov_len = lengths[i];
      ++count;
    }
    consumed += used;
    if (k < 64 || *close_after) break;
  }
  memmove(in->data, in->data + consumed, in->len - consumed);
  in->len -= consumed;
  return count;
}

static inline void peer_input_free(struct peer_input* in) {
  free(in->data);
  free(in->iov);
}

#endif
