// Uses an installed eddy: one loop, one timer, one immediate, one DNS resolver (which brings
// c-ares into a static link), one task sleeping through eddy::co (whose headers are installed
// in eddy/co/ and eddy/co/detail/). Exits 0 when all worked.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <eddy/co.hpp>
#include <eddy/eddy.hpp>

namespace {
eddy::task<> nap(eddy::loop& loop, bool& slept) {
  co_await eddy::co::sleep(loop, std::chrono::milliseconds(1));
  slept = true;
}
}  // namespace

int main() {
  try {
    eddy::loop loop;
    bool fired = false;
    bool immediate = false;
    eddy::timer t(loop);
    t.start(std::chrono::milliseconds(5), [&] {
      fired = true;
      t.close();
    });
    loop.set_immediate([&] { immediate = true; });
    bool slept = false;
    eddy::spawn(loop, nap(loop, slept));
    eddy::dns::resolver resolver(loop);
    const std::error_code servers_ec = resolver.set_servers("127.0.0.1:53");
    const std::string servers = resolver.servers();
    resolver.close();
    loop.run();
    if (std::error_code ec = loop.close()) {
      std::fprintf(stderr, "eddy_consumer: close: %s\n", ec.message().c_str());
      return 1;
    }
    const std::string_view port = eddy::to_string(loop.backend());
    std::printf("eddy_consumer: eddy %s on %.*s: timer %s, immediate %s\n", eddy::version(),
                static_cast<int>(port.size()), port.data(), fired ? "fired" : "MISSING", immediate ? "ran" : "MISSING");
    const bool resolver_ok = servers_ec == eddy::errc::not_supported || (!servers_ec && servers == "127.0.0.1:53");
    std::printf("eddy_consumer: resolver servers %s (%s)\n", servers.c_str(), servers_ec.message().c_str());
    std::printf("eddy_consumer: task %s\n", slept ? "slept" : "MISSING");
    return fired && immediate && resolver_ok && slept ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eddy_consumer: %s\n", e.what());
    return 1;
  }
}
