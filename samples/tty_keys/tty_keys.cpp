// tty_keys: puts the terminal in raw mode and echoes each key as it arrives (bytes in hex,
// so arrows and function keys show their escape sequences). 'q' quits and restores the
// terminal.
#include <cstdio>
#include <string>

#include "eddy/eddy.hpp"

int main() {
  if (eddy::guess_handle(0) != eddy::handle_kind::tty) {
    std::fprintf(stderr, "tty_keys: stdin is not a terminal\n");
    return 2;
  }
  eddy::loop loop;
  eddy::tty in(loop);
  if (auto ec = in.open(0)) {
    std::fprintf(stderr, "tty_keys: %s\n", ec.message().c_str());
    return 1;
  }
  if (auto ec = in.set_mode(eddy::tty_mode::raw)) {
    std::fprintf(stderr, "tty_keys: cannot enter raw mode: %s\n", ec.message().c_str());
    return 1;
  }
  int w = 0, h = 0;
  if (!in.get_winsize(w, h)) std::printf("terminal %dx%d; press keys, q quits\r\n", w, h);
  std::fflush(stdout);
  in.read_start([&](std::error_code ec, std::span<std::byte> data) {
    if (ec) {
      in.close();
      return;
    }
    std::string line;
    bool quit = false;
    for (std::byte b : data) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%02x ", static_cast<unsigned>(b));
      line += hex;
      quit = quit || b == std::byte{'q'};
    }
    std::printf("%s\r\n", line.c_str());
    std::fflush(stdout);
    if (quit) in.close();
  });
  loop.run();
  (void)eddy::tty::reset_mode();
  return 0;
}
