#!/usr/bin/env python3
"""Bar chart (SVG, written by hand: Debian's python3 has no matplotlib) of
prefill (pp) and decode (tg) tokens/s from benchmark JSON files.

usage: plot-bench.py OUT.svg [LABEL=]FILE.json[,FILE.json...] ...

Inputs, in any mix:
  - `bitnet bench --json` output (libbitnet),
  - `llama-bench -o json` output (llama.cpp, bitnet.cpp),
  - the combined file of scripts/bench-peers.sh (records already normalized).
LABEL= names the implementation in the legend (default: "libbitnet/<backend>"
for libbitnet, "llama-bench <commit>" for llama-bench files).
"""
import json
import math
import os
import sys
from xml.sax.saxutils import escape

PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def records_from(path, label):
    """Normalized records: impl, model, test ("pp128"/"tg64"), threads, mean, sd."""
    with open(path) as f:
        d = json.load(f)
    out = []
    if isinstance(d, dict) and d.get("tool") == "bitnet bench":
        model = os.path.basename(d["model"]["path"])
        for r in d["results"]:
            impl = label or "libbitnet/" + r["backend"]
            for kind in ("pp", "tg"):
                t = r[kind]
                if t["n_tokens"] > 0 and t["tokens_per_s"]["samples"]:
                    out.append(dict(impl=impl, model=model, test="%s%d" % (kind, t["n_tokens"]),
                                    threads=r["threads"], mean=t["tokens_per_s"]["mean"],
                                    sd=t["tokens_per_s"]["stddev"]))
    elif isinstance(d, dict) and "records" in d:
        for r in d["records"]:
            r = dict(r)
            if label:
                r["impl"] = label
            out.append(r)
    elif isinstance(d, list):  # llama-bench -o json
        for r in d:
            test = "pp%d" % r["n_prompt"] if r.get("n_gen", 0) == 0 else "tg%d" % r["n_gen"]
            impl = label or "llama-bench " + str(r.get("build_commit", "?"))
            out.append(dict(impl=impl, model=os.path.basename(r.get("model_filename", "?")), test=test,
                            threads=r.get("n_threads", 0), mean=r["avg_ts"], sd=r.get("stddev_ts", 0.0)))
    else:
        raise SystemExit("%s: not a bitnet bench, llama-bench or bench-peers JSON file" % path)
    return out


def nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def panel(svg, x0, y0, w, h, title, groups, impls, data, colors):
    """One chart: groups on x, one bar per implementation in each group."""
    svg.append('<text x="%g" y="%g" font-size="15" font-weight="bold">%s</text>' % (x0, y0 - 10, escape(title)))
    top = nice_max(max([data[k][0] + data[k][1] for k in data] or [1.0]))
    left, bottom = 60, 70
    pw, ph = w - left - 10, h - bottom
    for i in range(6):  # grid and y labels
        v = top * i / 5
        y = y0 + ph - ph * i / 5
        svg.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>' % (x0 + left, y, x0 + left + pw, y))
        svg.append('<text x="%g" y="%g" font-size="11" text-anchor="end">%s</text>' % (x0 + left - 5, y + 4, "%g" % v))
    svg.append('<text x="%g" y="%g" font-size="12" transform="rotate(-90 %g %g)" text-anchor="middle">tokens/s</text>'
               % (x0 + 14, y0 + ph / 2, x0 + 14, y0 + ph / 2))
    gw = pw / max(1, len(groups))
    bw = gw * 0.8 / max(1, len(impls))
    for gi, g in enumerate(groups):
        gx = x0 + left + gi * gw + gw * 0.1
        for ii, impl in enumerate(impls):
            if (g, impl) not in data:
                continue
            mean, sd = data[(g, impl)]
            bh = ph * mean / top
            bx, by = gx + ii * bw, y0 + ph - bh
            svg.append('<rect x="%g" y="%g" width="%g" height="%g" fill="%s"><title>%s: %.2f ± %.2f t/s</title></rect>'
                       % (bx, by, bw * 0.92, bh, colors[impl], escape(impl), mean, sd))
            if sd > 0:
                cx, e = bx + bw * 0.46, ph * sd / top
                svg.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#222"/>' % (cx, by - e, cx, by + e))
            svg.append('<text x="%g" y="%g" font-size="10" text-anchor="middle">%s</text>'
                       % (bx + bw * 0.46, by - 3 - (ph * sd / top), "%.3g" % mean))
        model, test, threads = g
        svg.append('<text x="%g" y="%g" font-size="11" text-anchor="middle">%s</text>'
                   % (gx + gw * 0.4, y0 + ph + 16, escape("%s, t=%d" % (test, threads))))
        svg.append('<text x="%g" y="%g" font-size="10" text-anchor="middle" fill="#555">%s</text>'
                   % (gx + gw * 0.4, y0 + ph + 30, escape(model[:40])))
    svg.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#000"/>' % (x0 + left, y0 + ph, x0 + left + pw, y0 + ph))


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    recs = []
    for arg in argv[2:]:
        label, _, paths = arg.rpartition("=") if "=" in arg else ("", "", arg)
        for p in paths.split(","):
            if p:
                recs.extend(records_from(p, label or None))
    if not recs:
        sys.stderr.write("no results in the input files\n")
        return 1
    impls = []
    for r in recs:
        if r["impl"] not in impls:
            impls.append(r["impl"])
    colors = {impl: PALETTE[i % len(PALETTE)] for i, impl in enumerate(impls)}
    kinds = [k for k in ("pp", "tg") if any(r["test"].startswith(k) for r in recs)]
    width = max(720, 140 * max(len({(r["model"], r["test"], r["threads"]) for r in recs if r["test"].startswith(k)})
                              for k in kinds) + 80)
    ph = 340
    height = 60 + len(kinds) * (ph + 40) + 30 + 20 * len(impls)
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>']
    y = 50
    for k in kinds:
        data, groups = {}, []
        for r in recs:
            if not r["test"].startswith(k):
                continue
            g = (r["model"], r["test"], r["threads"])
            if g not in groups:
                groups.append(g)
            # repeated runs of one implementation (A B A B): mean of means, pooled spread
            prev = data.get((g, r["impl"]))
            if prev:
                n = prev[2] + 1
                data[(g, r["impl"])] = ((prev[0] * prev[2] + r["mean"]) / n, max(prev[1], r["sd"]), n)
            else:
                data[(g, r["impl"])] = (r["mean"], r["sd"], 1)
        data = {key: v[:2] for key, v in data.items()}
        title = "prefill (pp): prompt tokens/s" if k == "pp" else "decode (tg): generated tokens/s"
        panel(svg, 10, y, width - 20, ph, title, groups, impls, data, colors)
        y += ph + 40
    for i, impl in enumerate(impls):
        svg.append('<rect x="20" y="%d" width="14" height="14" fill="%s"/>' % (y + 20 * i, colors[impl]))
        svg.append('<text x="40" y="%d" font-size="12">%s</text>' % (y + 20 * i + 12, escape(impl)))
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")
    print("wrote %s (%d results, %d implementations)" % (out, len(recs), len(impls)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
