// The cluster channel's wire format (src/cluster/wire.hpp): what a peer's bytes decode to.
// tests/fuzz/cluster_*_fuzz.cpp check the same functions on any input.
#include <gtest/gtest.h>

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "cluster/wire.hpp"

namespace {

using namespace eddy::cluster::detail;
using eddy::socket_address;

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

TEST(ClusterWireTest, FrameRoundTripsAndWaitsForItsPayload) {
  const auto payload = bytes("hello");
  const auto f = encode_frame(frame_type::message, payload);
  ASSERT_EQ(f.size(), header_size + payload.size());
  const auto d = decode_frame(f, 64);
  ASSERT_EQ(d.status, decode_status::frame);
  EXPECT_EQ(d.type, frame_type::message);
  EXPECT_EQ(d.size, f.size());
  EXPECT_TRUE(std::equal(d.payload.begin(), d.payload.end(), payload.begin(), payload.end()));
  for (std::size_t n = 0; n < f.size(); ++n) {
    EXPECT_EQ(decode_frame(std::span<const std::byte>(f).first(n), 64).status, decode_status::incomplete) << n;
  }
}

TEST(ClusterWireTest, HeartbeatCarriesTheLoopReportAndStaysRobust) {
  heartbeat_msg m{1000, 20, 300000, 5};
  EXPECT_FALSE(decode_heartbeat(encode(m))->loop);  // the first format: no report
  heartbeat_loop l;
  l.delay_p50_us = 10100;
  l.delay_p90_us = 10400;
  l.delay_p99_us = 110000;
  l.delay_max_us = 111000;
  l.resolution_us = 10000;
  l.delay_count = 93;
  l.delay_sum_us = 1000000;
  l.iterations = 1u << 20;
  l.events = 77;
  l.idle_us = 999;
  l.slow_callbacks = 3;
  l.pool_queued = 2;
  l.pool_threads = 4;
  l.open_fds = 17;
  l.handles_by_type = {1, 0, 0, 0, 2, 9};
  m.loop = l;
  const auto p = encode(m);
  const auto d = decode_heartbeat(p);
  ASSERT_TRUE(d && d->loop);
  EXPECT_EQ(d->rss, 1000u);
  EXPECT_EQ(d->loop->delay_p99_us, 110000u);
  EXPECT_EQ(d->loop->delay_max_us, 111000u);
  EXPECT_EQ(d->loop->resolution_us, 10000u);
  EXPECT_EQ(d->loop->delay_count, 93u);
  EXPECT_EQ(d->loop->iterations, 1u << 20);
  EXPECT_EQ(d->loop->slow_callbacks, 3u);
  EXPECT_EQ(d->loop->pool_threads, 4u);
  EXPECT_EQ(d->loop->open_fds, 17u);
  EXPECT_EQ(d->loop->handles_by_type, l.handles_by_type);
  // Cut anywhere inside the report: malformed, never read past the end.
  for (std::size_t n = 25; n < p.size(); ++n) {
    EXPECT_FALSE(decode_heartbeat(std::span<const std::byte>(p).first(n))) << n;
  }
  // Another version of the report: the first fields stay, the rest is skipped.
  auto other = p;
  other[24] = std::byte{2};
  const auto o = decode_heartbeat(other);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->utilization_ppm, 300000u);
  EXPECT_FALSE(o->loop);
  // A handle-type count above the limit is malformed.
  auto many = encode(heartbeat_msg{1, 2, 3, 4, heartbeat_loop{}});
  many.back() = std::byte{heartbeat_loop::max_handle_types + 1};
  EXPECT_FALSE(decode_heartbeat(many));
}

TEST(ClusterWireTest, BadHeadersAreMalformedBeforeTheirPayloadArrives) {
  auto f = encode_frame(frame_type::message, bytes("0123456789"));
  const auto header = std::span<const std::byte>(f).first(header_size);
  EXPECT_EQ(decode_frame(header, 9).status, decode_status::malformed);  // longer than allowed
  EXPECT_EQ(decode_frame(header, 10).status, decode_status::incomplete);
  f[4] = std::byte{0};
  EXPECT_EQ(decode_frame(f, 64).status, decode_status::malformed);  // type 0
  f[4] = std::byte{last_frame_type + 1};
  EXPECT_EQ(decode_frame(f, 64).status, decode_status::malformed);  // unknown type
  f[4] = std::byte{static_cast<unsigned char>(frame_type::message)};
  f[7] = std::byte{1};
  EXPECT_EQ(decode_frame(f, 64).status, decode_status::malformed);  // reserved byte set
}

TEST(ClusterWireTest, MessagesRoundTrip) {
  const auto h = decode_hello(encode(hello_msg{7, "secret"}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->id, 7u);
  EXPECT_EQ(h->secret, "secret");
  const auto b = decode_heartbeat(encode(heartbeat_msg{1ull << 40, 250, 500000, 12}));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->rss, 1ull << 40);
  EXPECT_EQ(b->lag_us, 250u);
  EXPECT_EQ(b->utilization_ppm, 500000u);
  EXPECT_EQ(b->handles, 12u);
  const auto addr = *socket_address::parse_endpoint("[fe80::1%2]:443");
  const auto l = decode_listen(encode(listen_msg{128, addr}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->backlog, 128u);
  EXPECT_EQ(l->address, addr);
  const auto g = decode_listening(encode(listening_msg{98, true, addr}));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->error, 98u);
  EXPECT_TRUE(g->with_socket);
  EXPECT_EQ(g->address, addr);
  const auto o = decode_listening_ok(encode(listening_ok_msg{addr}));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->address, addr);
  const auto a = decode_ack(encode(ack_msg{3}));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->count, 3u);
}

TEST(ClusterWireTest, ShortOrUnparsablePayloadsAreRejected) {
  EXPECT_FALSE(decode_hello(bytes("abc")));
  EXPECT_FALSE(decode_heartbeat(std::vector<std::byte>(23)));
  EXPECT_TRUE(decode_heartbeat(std::vector<std::byte>(30)));  // extra bytes are ignored
  EXPECT_FALSE(decode_listen(bytes("\x01\x00\x00")));
  EXPECT_FALSE(decode_listen(bytes(std::string_view("\x01\x00\x00\x00localhost:80", 16))));
  EXPECT_FALSE(decode_listening(bytes(std::string_view("\0\0\0\0", 4))));
  EXPECT_FALSE(decode_listening_ok(bytes("127.0.0.1:65536")));
  EXPECT_FALSE(decode_listening_ok(bytes("")));
  EXPECT_FALSE(decode_ack(bytes("\x01")));
}

}  // namespace
