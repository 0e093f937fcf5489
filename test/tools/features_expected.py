#!/usr/bin/python3
"""The expected feature values of test/unit/test_features.c, computed from
the dataset files with numpy, independently of sensorbridge: 1 Hz sensors
as read, stand-ins upsampled by the rule in include/sensorbridge/dataset.h
written out here, one-second means from the thousandths; the per-kelvin
copies divided by TS1's mean + 273.15.

Usage: test/tools/features_expected.py [DATASET_DIR] (from the source root)."""
import sys

import numpy as np

D = sys.argv[1] if len(sys.argv) > 1 else 'datasets/uci-hydraulic'
SENSORS = [('TS1', 1), ('CE', 1), ('SE', 1), ('PS1', 100), ('FS1', 10)]
CYCLES = (0, 1500)


def half_away(a):
    return np.sign(a) * np.floor(np.abs(a) + 0.5)


def second_means(name, rate):
    if rate == 1:
        v = np.loadtxt(f'{D}/{name}.txt')[list(CYCLES)]
        return half_away(v * 1000) / 1000.0
    v = np.loadtxt(f'{D}/standin/{name}_1hz.txt')[list(CYCLES)]
    n, k, c0 = 60, np.arange(60 * rate), rate // 2
    x = k - c0
    j = np.where(x > 0, x // rate, 0)
    rem = np.where(x > 0, x % rate, 0)
    jj = np.minimum(j, n - 2)
    y = v[:, jj] + (v[:, jj + 1] - v[:, jj]) * (rem / rate)
    y = np.where(rem == 0, v[:, np.minimum(j, n - 1)], y)
    y = np.where(j >= n - 1, v[:, [n - 1]], y)
    y = np.where(k <= c0, v[:, [0]], y)
    y = half_away(y * 1000.0) / 1000.0
    milli = half_away(y * 1000.0).reshape(len(CYCLES), 60, rate).sum(axis=2)
    return milli / (1000.0 * rate)


t = np.arange(60.0)
kelvin = second_means('TS1', 1).mean(axis=1) + 273.15
for name, rate in SENSORS:
    for row, cycle in enumerate(CYCLES):
        m = second_means(name, rate)[row]
        f = {'mean': m.mean(), 'std': m.std(), 'min': m.min(), 'max': m.max(),
             'slope': np.polyfit(t, m, 1)[0], 'maxdiff': np.abs(np.diff(m)).max(),
             'seg03_mean': m[15:20].mean(), 'seg11_std': m[55:60].std()}
        f['mean_per_K'] = f['mean'] / kelvin[row]
        f['seg11_std_per_K'] = f['seg11_std'] / kelvin[row]
        print(cycle, name, ' '.join('%s=%.17g' % kv for kv in f.items()))
