"""barge exec driver ``native``: containers as processes under a small monitor.

Kept empty on purpose: the monitor spawner imports this package, and every
module imported here would be paid for in each container's monitor.
"""
