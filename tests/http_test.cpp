// The hello_http sample's server on every port: keep-alive, pipelining, requests split
// across reads, malformed and oversized requests; and its request parser.
#include <string>

#include "port_fixture.hpp"
#include "samples/hello_http/http_server.hpp"

namespace {

using namespace std::chrono_literals;
using eddy_test::PortTest;
using hello::parse_request;
using hello::parse_result;

const std::string ok_body = "Hello World\n";

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

TEST(HttpParserTest, CompleteIncompleteAndBad) {
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").kind, parse_result::request);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").consumed, 27u);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: x\r\n").kind, parse_result::incomplete);
  EXPECT_EQ(parse_request("GE").kind, parse_result::incomplete);
  EXPECT_EQ(parse_request("").kind, parse_result::incomplete);
  for (const char* bad : {"GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", " / HTTP/1.1\r\n\r\n",
                          "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: x1\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "\x01\x02\x03 junk"}) {
    EXPECT_EQ(parse_request(bad).kind, parse_result::bad_request) << bad;
  }
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").kind, parse_result::not_implemented);
}

TEST(HttpParserTest, BodiesAndConnectionHeaders) {
  auto r = parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET");
  EXPECT_EQ(r.kind, parse_result::request);
  EXPECT_EQ(r.consumed, std::string("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").size());
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel").kind, parse_result::incomplete);
  EXPECT_TRUE(parse_request("GET / HTTP/1.1\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_request("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
}

TEST(HttpParserTest, HeadersOverTheLimitAreRejected) {
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(hello::max_header_bytes, 'a');
  EXPECT_EQ(parse_request(big).kind, parse_result::bad_request);           // no end in sight
  EXPECT_EQ(parse_request(big + "\r\n\r\n").kind, parse_result::bad_request);  // complete but too big
}

class HttpTest : public PortTest {
 protected:
  // Sends `parts` one write each (each after the previous completed) and collects the reply
  // until the server closes or `expect_responses` responses have arrived.
  std::string exchange(const std::vector<std::string>& parts, std::size_t expect_responses, bool* server_closed = nullptr) {
    hello::server srv(loop());
    EXPECT_FALSE(srv.listen(eddy::socket_address::loopback_v4(0)));
    eddy::tcp client(loop());
    std::string reply;
    bool closed = false;
    std::size_t next = 0;
    std::function<void()> send_next = [&] {
      if (next == parts.size()) return;
      client.write(eddy::buffer(parts[next]), [&](std::error_code ec) {
        if (ec) return;
        ++next;
        send_next();
      });
    };
    EXPECT_FALSE(client.connect(srv.address(), [&](std::error_code ec) {
      ASSERT_FALSE(ec);
      client.read_start([&](std::error_code rec, std::span<std::byte> d) {
        if (rec) {
          closed = true;
          client.close();
          srv.close();
          return;
        }
        reply.append(reinterpret_cast<const char*>(d.data()), d.size());
        if (expect_responses != 0 && count(reply, "HTTP/1.1 ") == expect_responses && reply.size() >= 1 &&
            reply.substr(reply.size() - ok_body.size()) == ok_body) {
          client.close();
          srv.close();
        }
      });
      send_next();
    }));
    loop().run();
    if (server_closed != nullptr) *server_closed = closed;
    return reply;
  }
};
EDDY_INSTANTIATE_PORTS(HttpTest);

TEST_P(HttpTest, AnswersHelloWorldWithKeepAlive) {
  bool closed = false;
  std::string reply = exchange({"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET /again HTTP/1.1\r\n\r\n"}, 2, &closed);
  EXPECT_EQ(count(reply, "HTTP/1.1 200 OK\r\n"), 2u);
  EXPECT_EQ(count(reply, ok_body), 2u);
  EXPECT_FALSE(closed);  // keep-alive: the server did not close
}

TEST_P(HttpTest, AnswersEveryPipelinedRequestInOrder) {
  std::string sixteen;
  for (int i = 0; i < 16; ++i) sixteen += "GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  std::string reply = exchange({sixteen}, 16);
  EXPECT_EQ(count(reply, "HTTP/1.1 200 OK\r\n"), 16u);
}

TEST_P(HttpTest, ARequestSplitAcrossReadsIsAnsweredOnce) {
  std::string reply = exchange({"GE", "T / HTT", "P/1.1\r\nHost:", " x\r\n", "\r", "\nGET / HTTP/1.1\r\n\r\n"}, 2);
  EXPECT_EQ(count(reply, "HTTP/1.1 200 OK\r\n"), 2u);
}

TEST_P(HttpTest, MalformedRequestGets400AndTheConnectionCloses) {
  bool closed = false;
  std::string reply = exchange({"GET / HTTP/1.1\r\n\r\nBROKEN\r\n\r\nGET / HTTP/1.1\r\n\r\n"}, 0, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(count(reply, "HTTP/1.1 200 OK\r\n"), 1u);  // the good one before it is answered
  EXPECT_EQ(count(reply, "HTTP/1.1 400 Bad Request\r\n"), 1u);
  EXPECT_EQ(reply.find("400"), reply.rfind("400"));  // nothing after the 400
}

TEST_P(HttpTest, OversizedHeadersGet400) {
  bool closed = false;
  std::string reply = exchange({"GET / HTTP/1.1\r\nX-Big: " + std::string(70 * 1024, 'b')}, 0, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
}

TEST_P(HttpTest, ConnectionCloseIsHonoured) {
  bool closed = false;
  std::string reply = exchange({"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"}, 0, &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(count(reply, ok_body), 1u);
}

}  // namespace
