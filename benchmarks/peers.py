"""What the benchmarks against Stable-Baselines3 share: their command line and the conditions of timing."""

from __future__ import annotations

import argparse
import os
import platform
import re
from collections.abc import Callable

import torch


def command_line(doc: str, runners: dict[str, Callable], steps_option: str) -> tuple[argparse.Namespace, dict[str, Callable]]:
    """``--seeds``, the step budget ``steps_option`` and ``--only`` parsed, and the runners to alternate.

    Every run gets one torch thread, and torch's one-time import of its compiler stack (which the first
    optimizer triggers) happens here, before any run is timed.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(steps_option, type=int, default=100_000)
    parser.add_argument("--only", choices=list(runners), help="run one implementation (e.g. a seed sweep)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    return args, ({args.only: runners[args.only]} if args.only else runners)


def cpu_description() -> str:
    """The machine the figures were taken on: CPU model, cores, the vector extensions torch can use, the load."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        info = open("/proc/cpuinfo").read()
        model = re.search(r"^model name\s*:\s*(.+)$", info, re.M).group(1).strip()
        flags = set(re.search(r"^flags\s*:\s*(.+)$", info, re.M).group(1).split())
    except (OSError, AttributeError):
        pass
    vector = [f for f in ("avx2", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile") if f in flags]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"CPU: {model}, {os.cpu_count()} cores, flags {' '.join(vector) or 'none of avx2/avx512'}; torch {torch.__version__} "
            f"dispatches {torch.backends.cpu.get_cpu_capability()}; load average {load}")
