/* The raw blocking pair for the pump workload: the physical limit of one TCP stream over
 * loopback with plain blocking read()/write() of 256 KiB, no event loop.
 * Usage: raw_pump server            reads one connection to its end; prints "listening on PORT"
 *        raw_pump client PORT SECONDS  writes for SECONDS, then closes
 * The server prints {"value": GB/s, ...} like eddy_micro's pump-server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
static char buf[CHUNK];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "server") == 0) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr*)&a, sizeof a) < 0 || listen(l, 16) < 0) die("listen");
    getsockname(l, (struct sockaddr*)&a, &len);
    printf("listening on %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int c = accept(l, NULL, NULL);
    if (c < 0) die("accept");
    close(l);
    uint64_t bytes = 0, t0 = 0;
    ssize_t n;
    while ((n = read(c, buf, 65536)) > 0) {
      if (bytes == 0) t0 = now_ns();
      bytes += (uint64_t)n;
    }
    if (n < 0) die("read");
    uint64_t t1 = now_ns();
    printf("{\"value\": %.6g, \"unit\": \"GB/s\", \"ms\": %.3f, \"backend\": \"blocking\"}\n",
           (double)bytes / (double)(t1 - t0), (double)(t1 - t0) / 1e6);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "client") == 0) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(buf, 'x', sizeof buf);
    uint64_t deadline = now_ns() + (uint64_t)(atof(argv[3]) * 1e9);
    while (now_ns() < deadline) {
      size_t off = 0;
      while (off < CHUNK) {
        ssize_t n = write(c, buf + off, CHUNK - off);
        if (n < 0) die("write");
        off += (size_t)n;
      }
    }
    close(c);
    printf("{}\n");
    return 0;
  }
  fprintf(stderr, "usage: raw_pump server | raw_pump client PORT SECONDS\n");
  return 2;
}
