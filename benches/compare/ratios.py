"""Single-thread QPS at equal recall@10: strata (the `ann` tool's JSON, through the
public API) against hnswlib and faiss (compare_hnswlib.py's or compare_ivfpq.py's
output) from one run.

    python3 ratios.py ANN.json PEERS.txt [--targets 0.95,0.99]

QPS at a target recall is read off each system's recall/QPS curve over its sweep (ef,
or every nprobe x refine pair, whose upper envelope is what interpolation needs),
interpolating log(QPS) linearly between the two settings that bracket the target; a
target above a system's best recall has no figure.
"""
import argparse
import json
import math
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ann_json")
    p.add_argument("peers")
    p.add_argument("--targets", default="0.95,0.99")
    a = p.parse_args()
    with open(a.ann_json) as f:
        ann = json.load(f)
    systems = {"strata": [(r["recall_at_10"], r["qps"]) for r in ann["runs"] if r.get("filter") is None]}
    builds = {"strata": ann.get("build_s")}
    # `ef=N` (HNSW) or `nprobe=P refine=R` (IVF-PQ) before the figures.
    line = re.compile(r"^(\w+) ((?:\w+=\d+ )+)recall@10=([\d.]+) qps=([\d.]+)")
    build = re.compile(r"^(\w+) build_s=([\d.]+)")
    with open(a.peers) as f:
        for text in f:
            if m := line.match(text):
                systems.setdefault(m[1], []).append((float(m[3]), float(m[4])))
            elif m := build.match(text):
                builds[m[1]] = float(m[2])
    targets = [float(t) for t in a.targets.split(",")]
    print(f"{'system':<10} {'build_s':>8} " + " ".join(f"{'qps@' + str(t):>12}" for t in targets))
    table = {name: [qps_at(points, t) for t in targets] for name, points in systems.items()}
    for name, row in table.items():
        cells = " ".join(f"{q:>12.0f}" if q else f"{'-':>12}" for q in row)
        b = builds.get(name)
        print(f"{name:<10} {b if b is not None else float('nan'):>8.2f} {cells}")
    for name, row in table.items():
        if name == "strata":
            continue
        ratios = [f"{s / q:.2f}x" if s and q else "-" for s, q in zip(table["strata"], row)]
        b, sb = builds.get(name), builds.get("strata")
        build_ratio = f"{sb / b:.2f}x" if b and sb else "-"
        print(f"strata / {name}: QPS at recall {a.targets}: {', '.join(ratios)}; build time {build_ratio}")


if __name__ == "__main__":
    main()
