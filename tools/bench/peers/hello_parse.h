/* The request handling of samples/hello_http (hello::parse_request and the answers), in C,
 * for the benchmark peers: every peer parses the same way and sends the same bytes.
 *
 * hello_parse() looks at the front of a buffer and says whether a complete request is there
 * (and how long it is), whether more bytes are needed, or whether the request is bad.
 * It keeps no state between calls. hello_answer() picks the response for a result. */
#ifndef EDDY_BENCH_HELLO_PARSE_H
#define EDDY_BENCH_HELLO_PARSE_H

#include <stddef.h>
#include <string.h>

#define HELLO_MAX_HEADER_BYTES (64 * 1024)

static const char hello_ok[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n";
static const char hello_ok_close[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello World\n";
static const char hello_ok_keep_alive_10[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello "
    "World\n";
static const char hello_bad_request[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char hello_not_implemented[] =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

enum hello_kind { HELLO_INCOMPLETE, HELLO_REQUEST, HELLO_BAD_REQUEST, HELLO_NOT_IMPLEMENTED };

struct hello_result {
  enum hello_kind kind;
  size_t consumed; /* bytes of this request (headers and body) when kind == HELLO_REQUEST */
  int keep_alive;
  int http10;
};

static inline int hello_is_token_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static inline int hello_all_token(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!hello_is_token_char(s[i])) return 0;
  return 1;
}

static inline char hello_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Case-insensitive equality of s[0..n) and the NUL-terminated lower-case word. */
static inline int hello_iequals(const char* s, size_t n, const char* word) {
  size_t w = strlen(word);
  if (n != w) return 0;
  for (size_t i = 0; i < n; ++i)
    if (hello_lower(s[i]) != word[i]) return 0;
  return 1;
}

static inline void hello_trim(const char** s, size_t* n) {
  while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) ++*s, --*n;
  while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) --*n;
}

/* First occurrence of needle in s[from..n), or (size_t)-1. */
static inline size_t hello_find(const char* s, size_t n, const char* needle, size_t from) {
  size_t k = strlen(needle);
  if (n < k) return (size_t)-1;
  for (size_t i = from; i + k <= n; ++i)
    if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0) return i;
  return (size_t)-1;
}

/* Whether the comma-separated list contains token (case-insensitive, spaces trimmed). */
static inline int hello_contains_token(const char* list, size_t n, const char* token) {
  while (n > 0) {
    size_t comma = hello_find(list, n, ",", 0);
    const char* item = list;
    size_t len = comma == (size_t)-1 ? n : comma;
    hello_trim(&item, &len);
    if (hello_iequals(item, len, token)) return 1;
    if (comma == (size_t)-1) break;
    list += comma + 1;
    n -= comma + 1;
  }
  return 0;
}

static inline struct hello_result hello_parse(const char* data, size_t size) {
  struct hello_result r = {HELLO_INCOMPLETE, 0, 1, 0};
  size_t end = hello_find(data, size, "\r\n\r\n", 0);
  if (end == (size_t)-1) {
    size_t sp = hello_find(data, size, " ", 0);
    r.kind = size > HELLO_MAX_HEADER_BYTES ? HELLO_BAD_REQUEST : HELLO_INCOMPLETE;
    /* A request line must start with a method: reject garbage early. */
    if (!hello_all_token(data, sp == (size_t)-1 ? size : sp)) r.kind = HELLO_BAD_REQUEST;
    return r;
  }
  if (end + 4 > HELLO_MAX_HEADER_BYTES) {
    r.kind = HELLO_BAD_REQUEST;
    return r;
  }
  size_t head_len = end + 2; /* each line ends in CRLF */

  /* Request line: METHOD SP target SP HTTP/1.x */
  size_t line_end = hello_find(data, head_len, "\r\n", 0);
  size_t sp1 = hello_find(data, line_end, " ", 0);
  size_t sp2 = sp1 == (size_t)-1 ? sp1 : hello_find(data, line_end, " ", sp1 + 1);
  if (sp1 == 0 || sp1 == (size_t)-1 || sp2 == (size_t)-1 || sp2 == sp1 + 1) {
    r.kind = HELLO_BAD_REQUEST;
    return r;
  }
  const char* version = data + sp2 + 1;
  size_t version_len = line_end - sp2 - 1;
  int is11 = version_len == 8 && memcmp(version, "HTTP/1.1", 8) == 0;
  int is10 = version_len == 8 && memcmp(version, "HTTP/1.0", 8) == 0;
  /* The target has no space: sp2 is the first space after sp1. */
  if (!hello_all_token(data, sp1) || (!is11 && !is10)) {
    r.kind = HELLO_BAD_REQUEST;
    return r;
  }
  r.http10 = is10;
  r.keep_alive = !is10;

  /* Headers. */
  size_t body = 0;
  int have_length = 0;
  size_t pos = line_end + 2;
  while (pos < head_len) {
    size_t eol = hello_find(data, head_len, "\r\n", pos);
    const char* h = data + pos;
    size_t h_len = eol - pos;
    pos = eol + 2;
    size_t colon = hello_find(h, h_len, ":", 0);
    if (colon == 0 || colon == (size_t)-1 || !hello_all_token(h, colon)) {
      r.kind = HELLO_BAD_REQUEST;
      return r;
    }
    const char* value = h + colon + 1;
    size_t value_len = h_len - colon - 1;
    hello_trim(&value, &value_len);
    if (hello_iequals(h, colon, "content-length")) {
      int digits = value_len > 0 && value_len <= 12 && !have_length;
      for (size_t i = 0; digits && i < value_len; ++i) digits = value[i] >= '0' && value[i] <= '9';
      if (!digits) {
        r.kind = HELLO_BAD_REQUEST;
        return r;
      }
      have_length = 1;
      body = 0;
      for (size_t i = 0; i < value_len; ++i) body = body * 10 + (size_t)(value[i] - '0');
    } else if (hello_iequals(h, colon, "transfer-encoding")) {
      r.kind = HELLO_NOT_IMPLEMENTED;
      return r;
    } else if (hello_iequals(h, colon, "connection")) {
      if (hello_contains_token(value, value_len, "close")) r.keep_alive = 0;
      if (is10 && hello_contains_token(value, value_len, "keep-alive")) r.keep_alive = 1;
    }
  }
  if (size < end + 4 + body) return r; /* body not complete yet (kind: incomplete) */
  r.kind = HELLO_REQUEST;
  r.consumed = end + 4 + body;
  return r;
}

/* The answers to everything complete at the front of in[0..size): at most max_answers
 * responses (static strings) are stored in answers/lengths. *consumed is how much of the
 * input they answered; *close_after is set when the connection must close after writing
 * them. Returns the number of answers. */
static inline size_t hello_answer_all(const char* in, size_t size, const char** answers, size_t* lengths,
                                      size_t max_answers, size_t* consumed, int* close_after) {
  size_t n = 0, offset = 0;
  *close_after = 0;
  while (n < max_answers) {
    struct hello_result r = hello_parse(in + offset, size - offset);
    if (r.kind == HELLO_INCOMPLETE) break;
    if (r.kind != HELLO_REQUEST) {
      answers[n] = r.kind == HELLO_BAD_REQUEST ? hello_bad_request : hello_not_implemented;
      lengths[n] = r.kind == HELLO_BAD_REQUEST ? sizeof hello_bad_request - 1 : sizeof hello_not_implemented - 1;
      ++n;
      *close_after = 1;
      break;
    }
    offset += r.consumed;
    if (!r.keep_alive) {
      answers[n] = hello_ok_close;
      lengths[n++] = sizeof hello_ok_close - 1;
      *close_after = 1;
      break;
    }
    answers[n] = r.http10 ? hello_ok_keep_alive_10 : hello_ok;
    lengths[n++] = r.http10 ? sizeof hello_ok_keep_alive_10 - 1 : sizeof hello_ok - 1;
  }
  *consumed = offset;
  return n;
}

#endif
