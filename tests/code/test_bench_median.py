"""A repeated load cell is reported as its median run, so one busy second of a 2-core machine
does not decide a ratio between contenders."""

from benchmarks.load_cell import Cell, Result, median

CELL = Cell("ours", "rest", 16, 1)


def _run(requests: int, p99_ms: float, rss_mb: float) -> Result:
    return Result(CELL, requests, 0, 5.0, 1.0, 2.0, p99_ms, 90.0, rss_mb)


def test_the_median_run_keeps_its_throughput_and_the_median_of_each_percentile() -> None:
    runs = [_run(5000, 40.0, 250.0), _run(2000, 90.0, 260.0), _run(4000, 10.0, 255.0)]
    chosen = median(runs)
    assert chosen.throughput == 800.0  # 4,000 requests in 5 s: the middle of 400, 800, 1,000
    assert chosen.p99_ms == 40.0
    assert chosen.rss_mb == 260.0
    assert chosen.samples == 3


def test_an_even_count_takes_the_lower_middle_run_not_an_average_of_two() -> None:
    chosen = median([_run(1000, 5.0, 1.0), _run(3000, 7.0, 1.0)])
    assert chosen.requests == 1000
    assert chosen.p99_ms == 6.0
