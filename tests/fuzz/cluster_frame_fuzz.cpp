// The cluster channel's frame decoder (src/cluster/wire.hpp) on any byte stream, the way
// channel::on_read uses it: frames are taken from the front of a growing buffer.
//
// Input: byte 0 picks how the stream is cut into reads (1..256 bytes each, or all at once);
// byte 1 picks the largest payload allowed; the rest is what a peer sent.
// Checks: a frame lies inside the input and re-encodes to exactly its bytes; a malformed
// header is one the format rejects; reading in pieces gives the same frames and verdict as
// reading all at once; encoding any payload decodes back to it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cluster/wire.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace eddy::cluster::detail;

struct seen {
  std::vector<std::vector<std::byte>> frames;  // the encoded bytes of every frame
  bool malformed = false;
};

bool header_is_valid(std::span<const std::byte> h, std::size_t max_payload) {
  const auto type = std::to_integer<unsigned>(h[4]);
  std::size_t len = 0;
  for (int i = 0; i < 4; ++i) len |= std::to_integer<std::size_t>(h[static_cast<std::size_t>(i)]) << (8 * i);
  return type >= 1 && type <= last_frame_type && h[5] == std::byte{0} && h[6] == std::byte{0} &&
         h[7] == std::byte{0} && len <= max_payload;
}

// Decodes every whole frame at the front of buf, checking each; returns the bytes used.
std::size_t drain(std::span<const std::byte> buf, std::size_t max_payload, seen& out) {
  std::size_t pos = 0;
  for (;;) {
    const auto rest = buf.subspan(pos);
    const decoded_frame f = decode_frame(rest, max_payload);
    if (f.status == decode_status::incomplete) {
      EDDY_FUZZ_CHECK(rest.size() < header_size || header_is_valid(rest.first(header_size), max_payload));
      return pos;
    }
    if (f.status == decode_status::malformed) {
      EDDY_FUZZ_CHECK(rest.size() >= header_size && !header_is_valid(rest.first(header_size), max_payload));
      out.malformed = true;
      return pos;
    }
    EDDY_FUZZ_CHECK(f.size == header_size + f.payload.size() && f.size <= rest.size());
    EDDY_FUZZ_CHECK(f.payload.data() == rest.data() + header_size);
    EDDY_FUZZ_CHECK(f.payload.size() <= max_payload);
    const auto again = encode_frame(f.type, f.payload);
    EDDY_FUZZ_CHECK(again.size() == f.size && std::equal(again.begin(), again.end(), rest.begin()));
    out.frames.push_back(again);
    pos += f.size;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = data[0] == 0 ? size : data[0];
  const std::size_t max_payload = std::size_t{data[1]} * 16;
  const std::span<const std::byte> stream(reinterpret_cast<const std::byte*>(data) + 2, size - 2);

  // All at once.
  seen whole;
  const std::size_t used = drain(stream, max_payload, whole);
  EDDY_FUZZ_CHECK(used <= stream.size());

  // In pieces, into a buffer that keeps what was not decoded yet (as the channel does).
  seen pieces;
  std::vector<std::byte> in;
  for (std::size_t at = 0; at < stream.size() && !pieces.malformed; at += piece) {
    const auto chunk = stream.subspan(at, std::min(piece, stream.size() - at));
    in.insert(in.end(), chunk.begin(), chunk.end());
    const std::size_t n = drain(in, max_payload, pieces);
    in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
  }
  EDDY_FUZZ_CHECK(pieces.malformed == whole.malformed);
  EDDY_FUZZ_CHECK(pieces.frames == whole.frames);

  // Any payload, any valid type: encode, then decode back.
  const auto type = static_cast<frame_type>(1 + data[1] % last_frame_type);
  const auto framed = encode_frame(type, stream);
  const decoded_frame back = decode_frame(framed, stream.size());
  EDDY_FUZZ_CHECK(back.status == decode_status::frame && back.type == type && back.size == framed.size());
  EDDY_FUZZ_CHECK(std::equal(back.payload.begin(), back.payload.end(), stream.begin(), stream.end()));
  if (!stream.empty()) {
    EDDY_FUZZ_CHECK(decode_frame(framed, stream.size() - 1).status == decode_status::malformed);
    EDDY_FUZZ_CHECK(decode_frame(std::span<const std::byte>(framed).first(framed.size() - 1), stream.size()).status ==
                    decode_status::incomplete);
  }
  return 0;
}
