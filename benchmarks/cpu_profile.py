"""Run `clearway ARGS...` under cProfile timed by the process's CPU clock, not the wall clock.

Usage: python benchmarks/cpu_profile.py OUT.prof serve|worker|...  An asyncio process waits
most of its wall time in epoll; its CPU profile shows what it spends the shared cores on.
SIGUSR1 starts the profile afresh, so a benchmark can leave start-up work out of it.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time


def main() -> None:
    out = sys.argv[1]
    sys.argv = ["clearway", *sys.argv[2:]]
    current = [cProfile.Profile(time.process_time)]

    def restart(_signum: int, _frame: object) -> None:
        current[0].disable()
        current[0] = cProfile.Profile(time.process_time)
        current[0].enable()

    signal.signal(signal.SIGUSR1, restart)
    current[0].enable()
    try:
        runpy.run_module("gateway", run_name="__main__")
    except SystemExit:
        pass
    finally:
        current[0].disable()
        current[0].dump_stats(out)


if __name__ == "__main__":
    main()
