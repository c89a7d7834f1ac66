import time

from benchmarks.run import main

started = time.perf_counter()
main()
print(f"Benchmark took {time.perf_counter() - started:.0f} s")
