"""The benchmark harness behind tools/bench/run: common (paths, CPUs, processes, results),
http (the HTTP workloads), micro (the loop workloads), report (results.md and the charts)."""
