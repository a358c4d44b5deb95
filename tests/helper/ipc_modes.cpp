// eddy_test_helper's ipc mode: `ipc-serve NAME` connects to the ipc pipe NAME, takes the
// listening socket that comes with the first bytes, accepts one connection on it and greets
// it with "hello from pid <pid>"; exits 0 when done, non-zero at the first thing that fails.
#include <cstdio>
#include <string>
#include <vector>

#include "eddy/eddy.hpp"

int mode_ipc_serve(const std::vector<std::string>& a) {
  if (a.empty()) return 2;
  eddy::loop loop;
  eddy::pipe channel(loop, true);
  eddy::tcp listener(loop), conn(loop);
  int status = 12;
  const std::string greeting = "hello from pid " + std::to_string(eddy::os::pid());
  auto fail = [&](int code) {
    status = code;
    channel.close();
    listener.close();
    conn.close();
  };
  channel.connect(a[0], [&](std::error_code ec) {
    if (ec) return fail(13);
    channel.read_start([&](std::error_code rec, std::span<std::byte> d) {
      if (rec || d.empty() || static_cast<char>(d[0]) != 'L' || channel.pending_count() != 1) return fail(14);
      if (channel.accept_pending(listener)) return fail(15);
      channel.close();
      listener.listen(8, [&](std::error_code aec) {
        if (aec || listener.accept(conn)) return fail(16);
        listener.close();
        conn.write(eddy::buffer(greeting), [&](std::error_code wec) {
          status = wec ? 17 : 0;
          conn.close();
        });
      });
    });
  });
  loop.run();
  return status;
}
