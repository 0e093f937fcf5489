#!/usr/bin/python3
"""plot.py - PNG plots from the benchmarks' own data (Debian's python3-matplotlib).

    test/bench/plot.py [--scale SCALE.tsv] [--timeline TIMELINE.txt]
                       [--aging AGING.txt] [--out DIR]

--scale     bench_scale.sh's scale.tsv (one line a point, a header line):
            performance-scale.png, CPU % and RSS against the sensor count, the
            1 Hz and 10 Hz points as two lines, and the marginal cost per sensor
            below them.
--timeline  bench.sh's timeline.txt (SB_KEEP=1 SB_TIMELINE=1 bench.sh; a line
            per 50-ms poll: seconds since the replay started, produced,
            delivered, consumed, producer queue, replay paused, RSS MB):
            performance-throughput.png, the produced and consumed counts and
            their rates over time.
--aging     bench.sh realtime's aging series (a line per interval: elapsed_s
            cpu_pct rss_mb mock_cpu_pct; '#' lines and blank lines skipped):
            performance-aging.png, CPU and RSS as the replay ages.
--out DIR   where the PNGs go (default: the current directory), e.g. docs/.

Only the plots whose input is given are made; the path of each is printed.
Exit status 2 when an input is missing or unreadable, or no input is given.
"""
import argparse
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

DPI = 110
COLOURS = {1: "tab:blue", 10: "tab:orange"}


def fail(msg):
    print(f"plot.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_rows(path, ncols):
    """Whitespace-separated numeric rows of at least ncols columns."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                fields = s.split()
                if len(fields) < ncols:
                    fail(f"{path}:{lineno}: {len(fields)} columns, expected {ncols}")
                try:
                    rows.append([float(x) for x in fields[:ncols]])
                except ValueError:
                    fail(f"{path}:{lineno}: not a number in {s!r}")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if not rows:
        fail(f"{path}: no data")
    return rows


def read_scale(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if not lines or not lines[0].startswith("rate_hz\t"):
        fail(f"{path}: not a bench_scale.sh TSV (no rate_hz header)")
    head = lines[0].split("\t")
    points = []
    for l in lines[1:]:
        v = l.split("\t")
        p = dict(zip(head, v))
        p["rate_hz"] = int(p["rate_hz"])
        p["sensors"] = int(p["sensors"])
        points.append(p)
    return points


def num(p, key):
    try:
        return float(p.get(key, "nan"))
    except ValueError:
        return math.nan


def thousands(x, _pos):
    return f"{x:,.0f}"


def plot_scale(path, out):
    points = read_scale(path)
    measured = [p for p in points if p["sensors"] > 0 and "cpu_pct" in p]
    base = [p for p in points if p["sensors"] == 0 and "cpu_pct" in p]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    (a_cpu, a_rss), (a_pcpu, a_prss) = axes
    panels = [
        (a_cpu, "cpu_pct", "CPU, % of one core", "whole process (all threads, broker incl.)"),
        (a_rss, "rss_kb", "RSS, MB", "VmRSS at the end of the window"),
        (a_pcpu, "cpu_us_per_s_per_sensor", "CPU per sensor, µs/s", "marginal: (CPU(N) − CPU(0)) / N"),
        (a_prss, "rss_kb_per_sensor", "RSS per sensor, KB", "marginal: (RSS(N) − RSS(0)) / N"),
    ]
    for rate in sorted({p["rate_hz"] for p in measured}):
        pts = sorted((p for p in measured if p["rate_hz"] == rate), key=lambda p: p["sensors"])
        ok = [p for p in pts if p["status"] == "ok"]
        bad = [p for p in pts if p["status"] != "ok"]
        colour = COLOURS.get(rate, None)
        for ax, key, _label, _sub in panels:
            scale = 1 / 1024 if key == "rss_kb" else 1
            ax.plot([p["sensors"] for p in ok], [num(p, key) * scale for p in ok], "o-",
                    color=colour, label=f"{rate} Hz")
            if bad:
                ax.plot([p["sensors"] for p in bad], [num(p, key) * scale for p in bad], "x",
                        color=colour, markersize=10, mew=2,
                        label=f"{rate} Hz, failing: loss, invalid or behind")
    if base:
        b = base[0]
        a_cpu.axhline(num(b, "cpu_pct"), color="grey", ls=":", label="0 sensors")
        a_rss.axhline(num(b, "rss_kb") / 1024, color="grey", ls=":", label="0 sensors")
    # The loop thread's share, dashed, on the CPU panels.
    for rate in sorted({p["rate_hz"] for p in measured}):
        ok = sorted((p for p in measured if p["rate_hz"] == rate and p["status"] == "ok"),
                    key=lambda p: p["sensors"])
        if ok:
            a_cpu.plot([p["sensors"] for p in ok], [num(p, "loop_cpu_pct") for p in ok], "--",
                       color=COLOURS.get(rate), alpha=0.7, label=f"{rate} Hz, loop thread")
            a_pcpu.plot([p["sensors"] for p in ok], [num(p, "loop_us_per_s_per_sensor") for p in ok],
                        "--", color=COLOURS.get(rate), alpha=0.7, label=f"{rate} Hz, loop thread")
    ticks = sorted({p["sensors"] for p in measured})
    for ax, _key, label, sub in panels:
        ax.set_xscale("log")
        if ticks:
            ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(label)
        ax.set_title(sub, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(FuncFormatter(thousands))
        ax.legend(fontsize=8)
    for ax in (a_pcpu, a_prss):
        ax.set_xlabel("synthetic sensors (log scale)")
    refused = [p for p in points if p.get("status", "").startswith("refused")]
    note = ""
    if refused:
        note = "; not run (configuration refused): " + ", ".join(
            f"{p['rate_hz']} Hz × {p['sensors']:,}" for p in refused)
    load = sorted({num(p, "load_avg") for p in points if p.get("load_avg")} - {math.nan})
    fig.suptitle("sensorbridge: cost of synthetic sensors (embedded broker, shared layout, windows "
                 "and alerts on)\n" + f"from {os.path.basename(path)}; 1-min load averages during the "
                 f"points {min(load, default=math.nan):.2f}–{max(load, default=math.nan):.2f} (2 cores){note}", fontsize=10)
    fig.tight_layout()
    dst = os.path.join(out, "performance-scale.png")
    fig.savefig(dst, dpi=DPI)
    plt.close(fig)
    return dst


def rates(t, c, step):
    """Mean rate over consecutive bins of `step` seconds from a cumulative count."""
    xs, ys = [], []
    i = 0
    while i < len(t):
        j = i
        while j + 1 < len(t) and t[j + 1] - t[i] < step:
            j += 1
        if j + 1 >= len(t):
            # The last, shorter bin, when it holds at least half a step.
            if j > i and t[j] - t[i] >= step / 2:
                xs.append((t[i] + t[j]) / 2)
                ys.append((c[j] - c[i]) / (t[j] - t[i]))
            break
        k = j + 1
        xs.append((t[i] + t[k]) / 2)
        ys.append((c[k] - c[i]) / (t[k] - t[i]))
        i = k
    return xs, ys


def plot_throughput(path, out):
    rows = read_rows(path, 7)
    t = [r[0] for r in rows]
    produced, consumed = [r[1] for r in rows], [r[3] for r in rows]
    queue, rss = [r[4] for r in rows], [r[6] for r in rows]
    fig, (a_cum, a_rate, a_mem) = plt.subplots(3, 1, figsize=(10, 9), sharex=True,
                                              gridspec_kw={"height_ratios": [2, 2, 1.3]})
    a_cum.plot(t, [p / 1e6 for p in produced], label="produced", color="tab:blue")
    a_cum.plot(t, [c / 1e6 for c in consumed], label="consumed", color="tab:green")
    a_cum.set_ylabel("messages, millions")
    a_cum.set_title("cumulative counts", fontsize=9)
    step = 0.5 if t[-1] < 60 else 2.0
    for series, label, colour in ((produced, "produced", "tab:blue"),
                                  (consumed, "consumed", "tab:green")):
        xs, ys = rates(t, series, step)
        a_rate.plot(xs, [y / 1e3 for y in ys], "o-", ms=3, label=label, color=colour)
    a_rate.set_ylabel("thousand msg/s")
    a_rate.set_title(f"rate over {step:g}-s bins", fontsize=9)
    a_mem.plot(t, rss, color="tab:red", label="RSS, MB")
    a_mem.set_ylabel("RSS, MB")
    a_q = a_mem.twinx()
    a_q.plot(t, [q / 1e3 for q in queue], color="tab:purple", alpha=0.6, label="producer queue")
    a_q.set_ylabel("producer queue, thousand msgs")
    a_mem.set_xlabel("seconds since the replay started")
    for ax in (a_cum, a_rate, a_mem):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    a_q.set_ylim(bottom=0)
    a_cum.legend(fontsize=8, loc="upper left")
    a_rate.legend(fontsize=8, loc="upper right")
    h1, l1 = a_mem.get_legend_handles_labels()
    h2, l2 = a_q.get_legend_handles_labels()
    a_mem.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    first = next((x for x, c in zip(t, consumed) if c > 0), None)
    if first is not None:
        for ax in (a_cum, a_rate):
            ax.axvline(first, color="grey", ls=":")
        a_cum.annotate(f"first consumed at {first:.1f} s", (first, 0),
                       xytext=(5, 10), textcoords="offset points", fontsize=8, color="grey")
    total = consumed[-1]
    fig.suptitle(f"sensorbridge end to end at speed = max, embedded broker: {total:,.0f} messages "
                 f"in {t[-1]:.1f} s ({total / t[-1]:,.0f} msg/s)\nfrom {os.path.basename(path)}",
                 fontsize=10)
    fig.tight_layout()
    dst = os.path.join(out, "performance-throughput.png")
    fig.savefig(dst, dpi=DPI)
    plt.close(fig)
    return dst


def plot_aging(path, out):
    rows = read_rows(path, 4)
    t = [r[0] / 60 for r in rows]
    fig, (a_cpu, a_rss) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    a_cpu.plot(t, [r[1] for r in rows], "o-", ms=3, label="sensorbridge, whole process",
               color="tab:blue")
    a_cpu.plot(t, [r[3] for r in rows], "o-", ms=3, label="of which the embedded broker (rdk:mock)",
               color="tab:orange")
    a_cpu.set_ylabel("CPU, % of one core")
    a_rss.plot(t, [r[2] for r in rows], "o-", ms=3, color="tab:red", label="RSS")
    a_rss.set_ylabel("RSS, MB")
    a_rss.set_xlabel("minutes since the start of the measurement")
    for ax in (a_cpu, a_rss):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("sensorbridge in real time, shipped configuration, aged at a higher speed\n"
                 f"from {os.path.basename(path)}", fontsize=10)
    fig.tight_layout()
    dst = os.path.join(out, "performance-aging.png")
    fig.savefig(dst, dpi=DPI)
    plt.close(fig)
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", help="bench_scale.sh's scale.tsv")
    ap.add_argument("--timeline", help="bench.sh's timeline.txt")
    ap.add_argument("--aging", help="bench.sh realtime's aging series")
    ap.add_argument("--out", default=".", help="output directory (default .)")
    a = ap.parse_args()
    if not (a.scale or a.timeline or a.aging):
        fail("nothing to plot: give --scale, --timeline or --aging")
    os.makedirs(a.out, exist_ok=True)
    for arg, fn in ((a.scale, plot_scale), (a.timeline, plot_throughput), (a.aging, plot_aging)):
        if arg:
            print(fn(arg, a.out))


if __name__ == "__main__":
    main()
