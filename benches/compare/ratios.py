"""Single-thread QPS at equal recall@10: strata (the `ann` tool's JSON, through the
public API) against hnswlib and faiss (compare_hnswlib.py's or compare_ivfpq.py's
output), from one or several passes.

    python3 ratios.py ANN.json PEERS.txt [--targets 0.90,0.95,0.99]
    python3 ratios.py ann-sq8-1.json ann-float32-1.json peers-1.txt ann-sq8-2.json ...

Every `.json` file is a strata run: `ann-LABEL-PASS.json` is the system
`strata-LABEL` (e.g. `strata-sq8`, `strata-float32`), any other name `strata`. Every
other file holds peer lines (`hnswlib ef=80 recall@10=0.9612 qps=5123`). With several
passes the best QPS of each system at each setting is kept (the pass least disturbed
by other work on the machine; recall does not change between passes).

QPS at a target recall is read off each system's recall/QPS curve over its sweep (ef,
or every nprobe x refine pair, whose upper envelope is what interpolation needs),
interpolating log(QPS) linearly between the two settings that bracket the target; a
target above a system's best recall has no figure. Each strata system is then divided
by each peer, and the build time, disk and resident memory per vector are printed.
"""
import argparse
import json
import math
import os
import re


def frontier(points):
    """The settings no other setting beats on both recall and QPS, by recall."""
    best = []
    for r, q in sorted(points, key=lambda p: (-p[0], -p[1])):
        if not best or q > best[-1][1]:
            best.append((r, q))
    return sorted(best)


def qps_at(points, target):
    points = frontier(points)
    for (r0, q0), (r1, q1) in zip(points, points[1:]):
        if r0 <= target <= r1:
            if r1 == r0:
                return max(q0, q1)
            t = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    if points and points[0][0] >= target:
        return points[0][1]
    return None


def strata_name(path):
    m = re.match(r"ann-(.+)-\d+\.json$", os.path.basename(path))
    return f"strata-{m[1]}" if m else "strata"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--targets", default="0.90,0.95,0.99")
    a = p.parse_args()
    # system -> setting -> (recall, best qps)
    best = {}
    builds, extras = {}, {}

    def add(system, setting, recall, qps):
        seen = best.setdefault(system, {}).get(setting)
        if seen is None or qps > seen[1]:
            best[system][setting] = (recall, qps)

    line = re.compile(r"^([\w-]+) ((?:\w+=\d+ )+)recall@10=([\d.]+) qps=([\d.]+)")
    build = re.compile(r"^([\w-]+) build_s=([\d.]+)")
    size = re.compile(r"^(\w+) index_bytes_per_vector=([\d.]+)")
    for path in a.files:
        if path.endswith(".json"):
            with open(path) as f:
                ann = json.load(f)
            name = strata_name(path)
            for run in ann["runs"]:
                if run.get("filter") is None:
                    setting = json.dumps(run["params"], sort_keys=True)
                    add(name, setting, run["recall_at_10"], run["qps"])
            if ann.get("build_s"):
                builds[name] = ann["build_s"]
            n = max(ann.get("n", 1), 1)
            extras[name] = {
                "disk_bytes_per_vector": ann["disk_mb"] * 1048576 / n,
                "rss_bytes_per_vector": (ann.get("rss_after_runs_mb") or 0) * 1048576 / n,
            }
            continue
        with open(path) as f:
            for text in f:
                if m := line.match(text):
                    add(m[1], m[2], float(m[3]), float(m[4]))
                elif m := build.match(text):
                    builds[m[1]] = float(m[2])
                elif m := size.match(text):
                    extras.setdefault(m[1], {})["index_bytes_per_vector"] = float(m[2])
    targets = [float(t) for t in a.targets.split(",")]
    table = {
        name: [qps_at(list(settings.values()), t) for t in targets]
        for name, settings in best.items()
    }
    print(f"{'system':<16} {'build_s':>8} " + " ".join(f"{'qps@' + str(t):>12}" for t in targets))
    for name, row in table.items():
        cells = " ".join(f"{q:>12.0f}" if q else f"{'-':>12}" for q in row)
        b = builds.get(name)
        print(f"{name:<16} {b if b is not None else float('nan'):>8.2f} {cells}")
    for name, figures in extras.items():
        text = ", ".join(f"{k} {v:.0f}" for k, v in figures.items())
        print(f"{name}: {text}")
    ours = [name for name in table if name.startswith("strata")]
    for mine in ours:
        for name, row in table.items():
            if name.startswith("strata"):
                continue
            ratios = [f"{s / q:.2f}x" if s and q else "-" for s, q in zip(table[mine], row)]
            b, sb = builds.get(name), builds.get(mine)
            build_ratio = f"{sb / b:.2f}x" if b and sb else "-"
            print(
                f"{mine} / {name}: QPS at recall {a.targets}: {', '.join(ratios)}; "
                f"build time {build_ratio}"
            )


if __name__ == "__main__":
    main()
