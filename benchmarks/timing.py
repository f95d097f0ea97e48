"""Shared by the explorer benchmarks: time control changes as a learner would make them."""

import itertools
import time

import numpy as np


def time_changes(explorer, changes):
    """Apply each dict of control values in turn through explorer.set; each full update's time in ms."""
    times = []
    for values in changes:
        start = time.perf_counter()
        explorer.set(**values)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1e3


def cycle(name, values, n=60):
    """n changes of one control, cycling through `values`."""
    return [{name: value} for value in itertools.islice(itertools.cycle(values), n)]
