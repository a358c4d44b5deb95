// Uses an installed eddy: one loop, one timer, one immediate. Exits 0 when both ran.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string_view>

#include <eddy/eddy.hpp>

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
    loop.run();
    if (std::error_code ec = loop.close()) {
      std::fprintf(stderr, "eddy_consumer: close: %s\n", ec.message().c_str());
      return 1;
    }
    const std::string_view port = eddy::to_string(loop.backend());
    std::printf("eddy_consumer: eddy %s on %.*s: timer %s, immediate %s\n", eddy::version(),
                static_cast<int>(port.size()), port.data(), fired ? "fired" : "MISSING", immediate ? "ran" : "MISSING");
    return fired && immediate ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eddy_consumer: %s\n", e.what());
    return 1;
  }
}
