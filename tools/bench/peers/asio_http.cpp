// The hello_http server on Boost.Asio: the same request handling and response bytes as eddy's
// samples/hello_http (hello_parse.h). One io_context on one thread; per connection the
// usual Asio chain read -> write the answers of that read (one async_write of the static
// response strings) -> read again.
// Usage: asio_http [--port N]
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <cstdio>
#include <memory>
#include <vector>

#include "peer_common.h"

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class connection : public std::enable_shared_from_this<connection> {
 public:
  explicit connection(tcp::socket s) : socket_(std::move(s)) {}
  ~connection() { peer_input_free(&in_); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void read() {
    char* at = peer_input_reserve(&in_);
    socket_.async_read_some(asio::buffer(at, PEER_READ_SIZE),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              if (!ec) self->on_read(n);
                            });
  }

 private:
  void on_read(std::size_t n) {
    int close_after = 0;
    std::size_t count = peer_input_answer(&in_, n, &close_after);
    if (count == 0) {
      read();
      return;
    }
    out_.clear();
    for (std::size_t i = 0; i < count; ++i) out_.emplace_back(in_.iov[i].iov_base, in_.iov[i].iov_len);
    asio::async_write(socket_, out_,
                      [self = shared_from_this(), close_after](boost::system::error_code ec, std::size_t) {
                        if (ec) return;
                        if (close_after) {
                          boost::system::error_code ignored;
                          self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                          return;  // the last reference goes: the socket closes
                        }
                        self->read();
                      });
  }

  tcp::socket socket_;
  peer_input in_{};
  std::vector<asio::const_buffer> out_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<connection>(std::move(s))->read();
    }
    accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(peer_port(argc, argv)));
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(1024);
  std::printf("listening on http://127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  accept(acceptor);
  io.run();
}
