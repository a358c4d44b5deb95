// The hello_http sample's request parser (samples/hello_http/http_server.hpp) on any bytes,
// the way the server calls it: requests are taken from the front of what was read.
//
// Input: the bytes a client sent.
// Checks: a request uses at least one byte and no more than there are; its bytes alone parse
// to the same result, and every shorter prefix of them is incomplete (the server waits, it
// never answers early); an incomplete input stays incomplete when cut shorter.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "http_server.hpp"

namespace {

using hello::parse_request;
using hello::parse_result;

bool same(const parse_result& a, const parse_result& b) {
  return a.kind == b.kind && a.consumed == b.consumed && a.keep_alive == b.keep_alive && a.http10 == b.http10;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Pipelined requests, as the server answers them.
  for (int n = 0; !in.empty(); ++n) {
    const parse_result r = parse_request(in);
    if (r.kind != parse_result::request) {
      EDDY_FUZZ_CHECK(r.consumed == 0);
      if (r.kind == parse_result::incomplete) {
        EDDY_FUZZ_CHECK(in.size() <= hello::max_header_bytes || in.find("\r\n\r\n") != std::string_view::npos);
        const std::size_t cut = in.size() / 2;
        EDDY_FUZZ_CHECK(parse_request(in.substr(0, cut)).kind == parse_result::incomplete);
      }
      break;
    }
    EDDY_FUZZ_CHECK(r.consumed > 0 && r.consumed <= in.size());
    const std::string_view req = in.substr(0, r.consumed);
    EDDY_FUZZ_CHECK(same(parse_request(req), r));
    // Every prefix would be one of the reads that came before: each must wait for more.
    for (std::size_t k = 0; k < req.size(); k += 1 + req.size() / 64) {
      EDDY_FUZZ_CHECK(parse_request(req.substr(0, k)).kind == parse_result::incomplete);
    }
    EDDY_FUZZ_CHECK(parse_request(req.substr(0, req.size() - 1)).kind == parse_result::incomplete);
    in.remove_prefix(r.consumed);
  }
  return 0;
}
