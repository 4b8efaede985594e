"""Run `clearway ARGS...` under cProfile timed by the process's CPU clock, not the wall clock.

Usage: python benchmarks/cpu_profile.py OUT.prof serve|worker|...  An asyncio process waits
most of its wall time in epoll; its CPU profile shows what it spends the shared cores on.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out = sys.argv[1]
    sys.argv = ["clearway", *sys.argv[2:]]
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        runpy.run_module("gateway", run_name="__main__")
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
