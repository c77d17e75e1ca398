"""How many cores this process may use: the one count every pool of threads or processes sizes
itself by.

``os.cpu_count()`` counts the machine's cores. A process pinned to some of them (``taskset``,
a container's ``--cpuset-cpus``) or held to a share of them (a cgroup CPU quota: a
container's ``--cpus``, a CI runner's limit) may use fewer, and a pool sized by the machine
then runs more busy threads than it has cores.
"""

from __future__ import annotations

import math
import os
from functools import cache
from pathlib import Path

__all__ = ["usable_cores"]

#: cgroup v2's quota file, then v1's pair (microseconds of CPU per period)
_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def _quota_cores() -> int | None:
    """Cores the process's CPU quota allows (rounded up), None without a quota."""
    try:
        quota, period = _CGROUP_V2.read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = (p.read_text().strip() for p in _CGROUP_V1)
        except (OSError, ValueError):
            return None
    try:
        share = int(quota) / int(period)
    except ValueError:  # "max": no quota
        return None
    return max(1, math.ceil(share)) if share > 0 else None


@cache
def usable_cores() -> int:
    """Cores this process may use: those it may run on (its affinity), no more than its CPU
    quota allows; at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _quota_cores()
    return max(1, min(cores, quota) if quota else cores)
