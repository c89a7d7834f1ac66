import sys
import time

from benchmarks.run import main
from core.errors import CalhousingError

started = time.perf_counter()
try:
    main()
except CalhousingError as err:
    sys.exit(f"benchmark: {err}")
print(f"Benchmark took {time.perf_counter() - started:.0f} s")
