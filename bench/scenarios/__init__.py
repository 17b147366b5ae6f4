"""The scenario families of issue 5; each module's `run(env, only)` returns one `Row` per scenario.

single    1 cold sync of 1,000 ConfigMaps, 2 no-op re-check, 3 one change among 1,000
latency   4 push → live, 5 out-of-band edit → reverted
fleet     6 1,000 Applications from nothing, 7 that fleet idle
memory    8 10,000 managed objects in 10 Applications
"""
