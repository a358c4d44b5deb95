// read_file: the seeds' 1event.js. It starts reading a file, prints "This happens first"
// while the read is under way, then prints the contents when the callback fires.
//
// Usage: read_file PATH
// The read runs on the thread pool (or the io_uring ring); the callback runs on the loop
// thread once the whole file is in memory. A missing file prints the error, which names it.
#include <cstdio>
#include <string>

#include "eddy/eddy.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH\n", argv[0]);
    return 2;
  }
  eddy::loop loop;
  int status = 0;
  eddy::fs::read_file(loop, argv[1], [&](const eddy::fs::error& err, std::string data) {
    if (err) {
      std::fprintf(stderr, "%s\n", err.message().c_str());
      status = 1;
      return;
    }
    std::fwrite(data.data(), 1, data.size(), stdout);
  });
  std::puts("This happens first");
  loop.run();
  return status;
}
