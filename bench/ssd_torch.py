#!/usr/bin/python3
"""SSD MobileNet V1 + box predictor in PyTorch, built from bench_ssd's layer list, timed side by
side with bench_ssd (our nn layers) for the same shapes: batch 8, forward and forward+backward
per image, batch norm in training mode, loss = sum of every predictor output.

Usage (from the repository root, with the system python that has torch):

  /usr/bin/python3 bench/ssd_torch.py --ours build/release/bench/bench_ssd [--threads 2]
      [--rounds 3] [--runs 3] [--case a|b] [--format channels_last|nchw|auto] [--malloc default,keep]
  /usr/bin/python3 bench/ssd_torch.py --ours ... --per-layer [--case a|b]
  /usr/bin/python3 bench/ssd_torch.py --layers FILE        PyTorch only, from a --dump-layers file

The network is exactly the ModelSpec's layer list (bench_ssd --dump-layers): conv or depthwise
(groups = channels) with TF SAME padding -- when TF pads asymmetrically (the odd pixel after)
the input goes through F.pad first, otherwise the conv pads itself --, then BatchNorm2d (eps and
momentum = 1 - decay from the config; weight trainable when scale, bias when center) or the
conv's bias, then ReLU6 (in place, as torchvision's MobileNets) or nothing. Layers take the
image, another layer's output or a feature map, as the list says.

Each round runs one PyTorch process (this script with --worker) and then bench_ssd --json, each
timing --runs iterations after a warm-up, so both see about the same machine load; the table
reports best and median over every run of every round and the ratio ours / torch of the bests
(below 1: we are faster). --malloc: glibc as is ("default", what a program gets), or "keep" --
freed memory stays in the heap (mallopt in both processes), so no iteration pays the page faults
of fresh memory; both by default. PyTorch's memory format is channels_last (NHWC in memory, what
oneDNN prefers: about 1.5x faster than NCHW for this network on the test machine); --format nchw,
or auto (one iteration of each, the faster kept and reported).
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def same_pads(size, kernel, stride):
    """TF SAME padding of one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Layer(nn.Module):
    """One ModelSpec layer: conv / depthwise, then batch norm or biases, then the activation."""

    def __init__(self, spec):
        super().__init__()
        if spec["padding"] != "SAME":
            raise ValueError("padding %s is not benchmarked" % spec["padding"])
        if spec["residual_input"] >= 0:
            raise ValueError("residual layers are not benchmarked")
        self.kernel = spec["kernel"]
        self.stride = spec["stride"]
        depthwise = spec["op"] == "depthwise"
        cin, cout = spec["in_channels"], spec["out_channels"]
        self.conv = nn.Conv2d(cin, cout, self.kernel, self.stride, padding=0, groups=cin if depthwise else 1,
                              bias=spec["biases"])
        bn = spec["batch_norm"]
        self.bn = None
        if bn is not None:
            self.bn = nn.BatchNorm2d(cout, eps=bn["epsilon"], momentum=1 - bn["decay"], affine=bn["center"] or bn["scale"])
            if self.bn.affine:
                self.bn.weight.requires_grad_(bn["scale"])
                self.bn.bias.requires_grad_(bn["center"])
        if spec["activation"] not in ("RELU_6", "NONE"):
            raise ValueError("activation %s is not benchmarked" % spec["activation"])
        self.relu6 = spec["activation"] == "RELU_6"

    def conv_forward(self, x):
        ph = same_pads(x.shape[2], self.kernel, self.stride)
        pw = same_pads(x.shape[3], self.kernel, self.stride)
        if ph[0] == ph[1] and pw[0] == pw[1]:
            return F.conv2d(x, self.conv.weight, self.conv.bias, self.stride, (ph[0], pw[0]), 1, self.conv.groups)
        x = F.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        return F.conv2d(x, self.conv.weight, self.conv.bias, self.stride, 0, 1, self.conv.groups)

    def forward(self, x, inplace=True):
        y = self.conv_forward(x)
        if self.bn is not None:
            y = self.bn(y)
        if self.relu6:
            y = F.relu6(y, inplace=inplace)
        return y


class Network(nn.Module):
    def __init__(self, case):
        super().__init__()
        self.specs = case["layers"]
        self.feature_maps = [f["layer"] for f in case["feature_maps"]]
        self.layers = nn.ModuleList(Layer(s) for s in self.specs)
        heads = [(s["predictor_index"], s["name"], i) for i, s in enumerate(self.specs) if s["part"] == "box_predictor"]
        self.box_heads = [i for _, name, i in sorted(heads) if name == "BoxEncodingPredictor"]
        self.class_heads = [i for _, name, i in sorted(heads) if name == "ClassPredictor"]
        self.num_class_slots = case["num_class_slots"]

    def source(self, i):
        s = self.specs[i]
        if s["input"] >= 0:
            return s["input"]
        if s["input_feature_map"] >= 0:
            return self.feature_maps[s["input_feature_map"]]
        return -1

    def forward(self, images):
        """(box_encodings [N, A, 4], class_predictions [N, A, K]) in TF's anchor order, as SsdModel."""
        outs = []
        for i, layer in enumerate(self.layers):
            src = self.source(i)
            outs.append(layer(images if src < 0 else outs[src]))
        n = images.shape[0]

        def gather(heads, width):
            return torch.cat([outs[i].permute(0, 2, 3, 1).reshape(n, -1, width) for i in heads], dim=1)

        return gather(self.box_heads, 4), gather(self.class_heads, self.num_class_slots)


def to_format(t, fmt):
    return t.contiguous(memory_format=torch.channels_last if fmt == "channels_last" else torch.contiguous_format)


def time_torch(case, fmt, runs, warmup=1):
    """(forward ms per image list, forward+backward ms per image list)."""
    torch.manual_seed(7)
    model = Network(case)
    if fmt == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    n = case["batch"]
    images = to_format(torch.rand(n, 3, case["height"], case["width"]) * 2 - 1, fmt)
    fwd, fwd_bwd = [], []
    for r in range(warmup + runs):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        outputs = model(images)
        t1 = time.perf_counter()
        loss = outputs[0].sum() + outputs[1].sum()
        loss.backward()
        t2 = time.perf_counter()
        del outputs, loss
        if r >= warmup:
            fwd.append((t1 - t0) * 1e3 / n)
            fwd_bwd.append((t2 - t0) * 1e3 / n)
    return fwd, fwd_bwd


def keep_freed_memory():
    """As bench_ssd --keep-memory: glibc keeps freed blocks instead of unmapping / trimming them."""
    libc = ctypes.CDLL(None)
    libc.mallopt(-4, 0)          # M_MMAP_MAX
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD


def worker(args, case):
    """One process, one malloc setting: times PyTorch and prints one JSON line."""
    if args.malloc == "keep":
        keep_freed_memory()
    fmt, trial = args.format, {}
    if fmt == "auto":
        for f in ("nchw", "channels_last"):
            trial[f] = min(time_torch(case, f, runs=1)[1])
        fmt = min(trial, key=trial.get)
    fwd, fwd_bwd = time_torch(case, fmt, args.runs)
    print(json.dumps({"format": fmt, "trial": trial, "forward": fwd, "forward_backward": fwd_bwd}))


def run_torch(args, layers, case_name, malloc, fmt):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--layers", layers, "--case", case_name,
           "--threads", str(args.threads), "--runs", str(args.runs), "--malloc", malloc, "--format", fmt]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_ours(args, case_name, malloc):
    cmd = [args.ours, "--case", case_name, "--threads", str(args.threads), "--runs", str(args.runs), "--json"]
    if malloc == "keep":
        cmd.append("--keep-memory")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])[0]
    return r["forward"], r["forward_backward"]


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- whole model ------------------------------------------------------------------------------

def compare_model(args, layers, cases):
    print("ssd_torch: torch %s, %d threads, batch %d, %d rounds of %d runs; load average %s" %
          (torch.__version__, args.threads, cases[0]["batch"], args.rounds, args.runs, load_average()))
    rows = []
    for case in cases:
        for malloc in args.malloc.split(","):
            fmt = args.format
            tf, tfb, of, ofb = [], [], [], []
            for _ in range(args.rounds):
                t = run_torch(args, layers, case["name"], malloc, fmt)
                if t["trial"]:
                    print("case %s, malloc %s: torch memory format %s (one fwd+bwd: %s)" % (
                        case["name"], malloc, t["format"],
                        ", ".join("%s %.1f ms/image" % kv for kv in t["trial"].items())))
                fmt = t["format"]
                tf += t["forward"]
                tfb += t["forward_backward"]
                if args.ours:
                    f, fb = run_ours(args, case["name"], malloc)
                    of += f
                    ofb += fb
            rows.append((case, malloc, fmt, tf, tfb, of, ofb))
    print("\nms per image, batch %d, %d threads; best / median of every run of every round;"
          " ratio = ours / torch (best), below 1 is faster" % (cases[0]["batch"], args.threads))
    print("%-18s %-8s %-14s %-17s %19s %19s %7s" % ("case", "malloc", "torch format", "pass", "ours", "torch", "ratio"))
    for case, malloc, fmt, tf, tfb, of, ofb in rows:
        label = "%s %dx%d d%.2f" % (case["name"], case["height"], case["width"], case["depth_multiplier"])
        for name, ours, theirs in (("forward", of, tf), ("forward+backward", ofb, tfb)):
            t = "%8.2f / %8.2f" % (min(theirs), statistics.median(theirs))
            if ours:
                print("%-18s %-8s %-14s %-17s %8.2f / %8.2f %s %7.2f" % (label, malloc, fmt, name, min(ours),
                      statistics.median(ours), t, min(ours) / min(theirs)))
            else:
                print("%-18s %-8s %-14s %-17s %19s %s" % (label, malloc, fmt, name, "-", t))
    print("load average at the end: %s" % load_average())


# ---- per layer --------------------------------------------------------------------------------

def best_ms(fn, runs):
    fn()
    best = 1e30
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def time_layer_torch(case, entry, fmt, runs):
    """conv / bn / act forward and backward alone, ms per batch (as bench_ssd --per-layer)."""
    spec = case["layers"][entry["layer"]]
    torch.manual_seed(3)
    layer = Layer(spec)
    if fmt == "channels_last":
        layer = layer.to(memory_format=torch.channels_last)
    need_dx = spec["input"] >= 0 or spec["input_feature_map"] >= 0
    x = to_format(torch.rand(case["batch"], spec["in_channels"], entry["in_height"], entry["in_width"]), fmt)
    x.requires_grad_(need_dx)
    out = {}
    params = [p for p in layer.conv.parameters()]
    out["conv_fwd"] = best_ms(lambda: layer.conv_forward(x), runs)
    y = layer.conv_forward(x)
    dy = torch.rand_like(y)
    inputs = params + ([x] if need_dx else [])
    out["conv_bwd"] = best_ms(lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True), runs)
    z = y.detach().requires_grad_(True)
    if layer.bn is not None:
        out["bn_fwd"] = best_ms(lambda: layer.bn(z), runs)
        b = layer.bn(z)
        bn_inputs = [z] + [p for p in layer.bn.parameters() if p.requires_grad]
        out["bn_bwd"] = best_ms(lambda: torch.autograd.grad(b, bn_inputs, dy, retain_graph=True), runs)
    if layer.relu6:
        out["act_fwd"] = best_ms(lambda: F.relu6(z), runs)
        a = F.relu6(z)
        out["act_bwd"] = best_ms(lambda: torch.autograd.grad(a, [z], dy, retain_graph=True), runs)
    return out


def compare_per_layer(args, cases):
    if args.malloc == "keep":
        keep_freed_memory()
    keys = ("conv_fwd", "conv_bwd", "bn_fwd", "bn_bwd", "act_fwd", "act_bwd")
    print("ssd_torch per layer: torch %s, %d threads; ms per batch of %d, best of %d; ours / torch; load average %s"
          % (torch.__version__, torch.get_num_threads(), cases[0]["batch"], args.runs, load_average()))
    for case in cases:
        fmt = args.format if args.format != "auto" else "channels_last"
        cmd = [args.ours, "--per-layer", "--case", case["name"], "--threads", str(args.threads), "--runs",
               str(args.runs), "--json"] + (["--keep-memory"] if args.malloc == "keep" else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        ours = json.loads(out.strip().splitlines()[-1])[0]["layers"]
        print("\ncase %s (torch %s)" % (case["name"], fmt))
        print("%-34s %3s " % ("layer", "n") + " ".join("%17s" % k for k in keys))
        total_ours = dict.fromkeys(keys, 0.0)
        total_torch = dict.fromkeys(keys, 0.0)
        for entry in ours:
            theirs = time_layer_torch(case, entry, fmt, args.runs)
            cells = []
            for k in keys:
                if k in entry:
                    total_ours[k] += entry[k] * entry["count"]
                    total_torch[k] += theirs[k] * entry["count"]
                    cells.append("%7.2f/%7.2f%s" % (entry[k], theirs[k], "*" if entry[k] > theirs[k] * 1.1 else " "))
                else:
                    cells.append("%17s" % "")
            print("%-34s %3d " % (entry["key"], entry["count"]) + " ".join(cells))
        print("%-34s %3s " % ("total (x count)", "") + " ".join(
            "%7.1f/%7.1f " % (total_ours[k], total_torch[k]) for k in keys))
        print("%-34s %3s " % ("ratio", "") + " ".join("%17.2f" % (total_ours[k] / max(total_torch[k], 1e-9)) for k in keys))
    print("load average at the end: %s" % load_average())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ours", help="the bench_ssd binary (times our side and dumps the layers)")
    p.add_argument("--layers", help="a bench_ssd --dump-layers file (default: ask --ours)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--case", choices=("a", "b"))
    p.add_argument("--format", choices=("auto", "nchw", "channels_last"), default="channels_last",
                   help="torch memory format; auto times one iteration of each and keeps the faster")
    p.add_argument("--malloc", default="default,keep",
                   help="comma list of default (glibc as is) and keep (freed memory kept, both sides)")
    p.add_argument("--per-layer", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if not args.ours and not args.layers:
        p.error("give --ours BINARY or --layers FILE")
    if args.per_layer and not args.ours:
        p.error("--per-layer needs --ours")
    if not set(args.malloc.split(",")) <= {"default", "keep"} or (args.per_layer or args.worker) and "," in args.malloc:
        p.error("--malloc: default, keep or (whole model only) default,keep")
    torch.set_num_threads(args.threads)
    layers = args.layers
    if not layers:
        fd, layers = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        subprocess.run([args.ours, "--dump-layers", layers], check=True)
    with open(layers) as f:
        cases = [c for c in json.load(f)["cases"] if args.case in (None, c["name"])]
    try:
        if args.worker:
            worker(args, cases[0])
        elif args.per_layer:
            compare_per_layer(args, cases)
        else:
            compare_model(args, layers, cases)
    finally:
        if not args.layers:
            os.unlink(layers)


if __name__ == "__main__":
    sys.exit(main())
