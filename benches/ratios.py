#!/usr/bin/env python3
"""Prints, for each criterion group under target/criterion whose name starts with the given
prefix, every function's mean time and its ratio to the group's `floor` (and `value`, when the
group has one). Used to record BENCHMARKS.md from one `cargo bench` run."""
import json, os, sys

prefix = sys.argv[1] if len(sys.argv) > 1 else ""
root = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
for group in sorted(os.listdir(root)):
    if not group.startswith(prefix.replace("/", "_")) or group == "report":
        continue
    gdir = os.path.join(root, group)
    means = {}
    for fn in sorted(os.listdir(gdir)):
        est = os.path.join(gdir, fn, "new", "estimates.json")
        if os.path.exists(est):
            with open(est) as f:
                means[fn] = json.load(f)["mean"]["point_estimate"]
    if not means:
        continue
    floor = means.get("floor")
    print(f"{group}")
    for fn, ns in means.items():
        extra = ""
        if floor:
            extra += f"  {ns / floor:5.2f}x floor"
        if "value" in means and fn != "value":
            extra += f"  value/this {means['value'] / ns:5.2f}x"
        print(f"  {fn:<24} {ns / 1000:9.3f} us{extra}")
