#!/usr/bin/env python3
"""Compares a bench's headline figures with the committed baseline.

Usage: bench_guard.py BASELINE_JSON BENCH_NAME FIGURES_JSONL

FIGURES_JSONL holds the JSON lines the bench printed. For every headline the baseline names
for this bench, the line matching its "where" is found and its figure compared: a figure more
than `tolerance` (default 20%) worse than the baseline (and worse by more than `slack`, in the
figure's own unit, for figures so small that noise alone moves them by a fifth) prints a
REGRESSION line. Exit status 1 when any regression was found, 0 otherwise (a headline the run
did not produce is reported, not failed: a bench can be run with fewer scenarios).

The baseline is updated deliberately, by editing tests/bench/baseline.json with the figures of
a run worth keeping, never by this script.
"""
import json
import math
import sys


def matches(line, where):
    return all(line.get(k) == v for k, v in where.items())


def describe(where):
    return ",".join(f"{k}={v}" for k, v in where.items() if k != "bench")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    baseline_path, bench, figures_path = sys.argv[1:]
    with open(baseline_path) as f:
        baseline = json.load(f)
    lines = []
    with open(figures_path) as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    regressions = 0
    for h in baseline.get("benches", {}).get(bench, []):
        where, figure, better = h["where"], h["figure"], h["better"]
        base = float(h["baseline"])
        tolerance = float(h.get("tolerance", baseline.get("tolerance", 0.2)))
        slack = float(h.get("slack", 0))
        label = f"{bench} {figure}" + (f" ({describe(where)})" if describe(where) else "")
        found = [l for l in lines if matches(l, where) and figure in l]
        if not found:
            print(f"bench-guard: {label}: not measured in this run", file=sys.stderr)
            continue
        value = found[-1][figure]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            print(f"REGRESSION {label}: no figure (null) against baseline {base:g}")
            regressions += 1
            continue
        value = float(value)
        if better == "higher":
            worse_by = base - value
            limit = max(base * tolerance, slack)
        else:
            worse_by = value - base
            limit = max(base * tolerance, slack)
        change = (value - base) / base * 100 if base != 0 else 0.0
        if worse_by > limit:
            print(f"REGRESSION {label}: {value:g} against baseline {base:g} ({change:+.0f}%, "
                  f"{better} is better; allowed {tolerance * 100:.0f}%)")
            regressions += 1
        else:
            print(f"bench-guard: {label}: {value:g} against baseline {base:g} ({change:+.0f}%): ok",
                  file=sys.stderr)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
