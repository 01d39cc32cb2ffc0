"""CLV model fits: Pilotage against lifetimes 0.11.3 on the same summaries, same run.

    .venv/bin/pip install -e '.[bench]' --constraint requirements/constraints.txt  # once
    .venv/bin/python benchmarks/clv.py [--cdnow-dir DIR] [--customers 1000000] [--seed 7]
        [--repeat 7] [--large-repeat 3] [--budget 300] [--models bgnbd,pareto_nbd,gamma_gamma]

1. The full CDNOW_master.txt (23,570 customers, calibration end 1997-09-30, weeks):
   BG/NBD, Pareto/NBD and Gamma-Gamma.
2. N synthetic customers (default 1,000,000) simulated from a BG/NBD with known
   parameters, their repeat buyers' mean spend from a Gamma-Gamma with known parameters
   (numpy, seeded; continuous purchase times and amounts, so no two summaries are alike and
   Pilotage's merging of identical rows does not help): BG/NBD, Pareto/NBD and Gamma-Gamma.
For each fit, Pilotage's and lifetimes' runs alternate, so that both see the same load on a
shared machine: best and median wall time of `--repeat` runs (`--large-repeat` on the
synthetic data; no new pair of runs starts after `--budget` seconds, so lifetimes'
Pareto/NBD on 1M customers, minutes a run, runs once). Then one more run of each gives the
peak memory of the fit (tracemalloc, which numpy reports its arrays to; not timed, as
tracemalloc slows allocations down). Also printed: the estimates of both and whether they
agree to 3 significant digits, the CPU time of the process (less sensitive than wall time
to other jobs on a shared machine; both libraries compute on one thread) and the load
average at the start and the end. Last, the peak resident memory of the whole run, and that
of a fresh process that simulates the synthetic customers and fits them with Pilotage alone.
lifetimes is the `bench` extra: without it the script stops and says how to install it.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pilotage.clv import BetaGeo, GammaGamma, ParetoNBD, customer_summary
from pilotage.clv.datasets import cdnow_source

DEFAULT_CDNOW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdnow"
TRUE_BGNBD = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 15.0}
MODELS = ("bgnbd", "pareto_nbd", "gamma_gamma")
INSTALL_HINT = (
    "benchmarks/clv.py compares Pilotage with lifetimes 0.11.3, which is not installed: "
    "install the bench extra with\n"
    "    .venv/bin/pip install -e '.[bench]' --constraint requirements/constraints.txt"
)

# The baseline, only for this benchmark (unmaintained: not a Pilotage dependency). Imported
# by main(), so that the process measuring Pilotage's memory alone does not load it.
lifetimes: Any = None

# Estimates, wall times (s), CPU times of the process (s), peak traced memory (MB).
Result = tuple[dict[str, float], list[float], list[float], float]


def simulate_bgnbd(n: int, seed: int) -> pd.DataFrame:
    """x, t_x, T of n customers from a BG/NBD; T uniform in 1..52 weeks (weekly cohorts);
    m_x, the mean of a repeat buyer's x purchase values, from a Gamma-Gamma (0 if x = 0)."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = TRUE_BGNBD.values()
    rate = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    age = rng.integers(1, 53, n).astype(np.float64)
    frequency = np.zeros(n)
    recency = np.zeros(n)
    clock = np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0, active.size) / rate[active]
        bought = clock[active] <= age[active]
        buyers = active[bought]
        frequency[buyers] += 1
        recency[buyers] = clock[buyers]
        # After each purchase the customer becomes inactive with probability p.
        stays = rng.random(buyers.size) >= drop[buyers]
        active = buyers[stays]
    # Drawn after the purchases, so that x, t_x and T do not depend on them. Each value is
    # Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer: the mean of x of them is
    # Gamma(p x, x nu).
    p, q, gamma = TRUE_GAMMA_GAMMA.values()
    repeat = frequency > 0
    nu = rng.gamma(q, 1 / gamma, int(repeat.sum()))
    monetary_value = np.zeros(n)
    monetary_value[repeat] = rng.gamma(p * frequency[repeat], 1 / (frequency[repeat] * nu))
    return pd.DataFrame(
        {"frequency": frequency, "recency": recency, "T": age, "monetary_value": monetary_value}
    )


def compare(
    ours: Callable[[], dict[str, float]],
    theirs: Callable[[], dict[str, float]],
    repeat: int,
    budget: float,
) -> tuple[Result, Result]:
    """Both fits `repeat` times, alternating (fewer once `budget` seconds have passed, at
    least once), then once more each under tracemalloc."""
    times: tuple[list[float], list[float]] = ([], [])
    cpu_times: tuple[list[float], list[float]] = ([], [])
    estimates: list[dict[str, float]] = [{}, {}]
    started = time.perf_counter()
    for _ in range(repeat):
        for i, fit in enumerate((ours, theirs)):
            gc.collect()
            start, cpu_start = time.perf_counter(), time.process_time()
            estimates[i] = fit()
            times[i].append(time.perf_counter() - start)
            cpu_times[i].append(time.process_time() - cpu_start)
        if time.perf_counter() - started > budget:
            break
    peaks = []
    for fit in (ours, theirs):
        gc.collect()
        tracemalloc.start()
        fit()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append(peak / 1e6)
    return (
        (estimates[0], times[0], cpu_times[0], peaks[0]),
        (estimates[1], times[1], cpu_times[1], peaks[1]),
    )


def same_to_3_digits(left: dict[str, float], right: dict[str, float]) -> bool:
    return all(float(f"{left[k]:.3g}") == float(f"{right[k]:.3g}") for k in left)


def row(data: str, model: str, ours: Result, theirs: Result) -> None:
    lines = []
    for name, (params, times, cpu_times, megabytes) in (
        ("pilotage", ours),
        ("lifetimes", theirs),
    ):
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items())
        lines.append(
            f"{name:<9} best {min(times):8.4f} s median {statistics.median(times):8.4f} s "
            f"(CPU best {min(cpu_times):8.4f} s) {megabytes:7.1f} MB  {shown}"
        )
    print(f"{data:<22} {model:<12} {lines[0]}")
    print(f"{'':<22} {'':<12} {lines[1]}")
    best = min(theirs[1]) / min(ours[1])
    median = statistics.median(theirs[1]) / statistics.median(ours[1])
    cpu = min(theirs[2]) / min(ours[2])
    print(
        f"{'':<22} {'':<12} speed-up x{best:.1f} (best of {len(ours[1])}), x{median:.1f} "
        f"(median), x{cpu:.1f} (CPU time); memory x{theirs[3] / ours[3]:.1f}; same estimates "
        f"to 3 significant digits: {same_to_3_digits(ours[0], theirs[0])}",
        flush=True,
    )


def fits(
    summary: pd.DataFrame, model: str
) -> tuple[Callable[[], dict[str, float]], Callable[[], dict[str, float]]]:
    """Pilotage's and lifetimes' fit of one model on the same summary, returning estimates.

    Both fit the Gamma-Gamma on the repeat buyers with a positive mean spend (repeat days
    all worth $0.00 carry no spend information); Pilotage is given every customer with a
    positive value and leaves out those with x = 0 itself."""
    x_series, t_x_series, age_series = summary["frequency"], summary["recency"], summary["T"]
    x, t_x, age = x_series.to_numpy(), t_x_series.to_numpy(), age_series.to_numpy()
    if model == "bgnbd":
        return (
            lambda: BetaGeo().fit(x, t_x, age).params_,
            lambda: (
                lifetimes.BetaGeoFitter().fit(x_series, t_x_series, age_series).params_.to_dict()
            ),
        )
    if model == "pareto_nbd":
        return (
            lambda: ParetoNBD().fit(x, t_x, age).params_,
            lambda: (
                lifetimes.ParetoNBDFitter().fit(x_series, t_x_series, age_series).params_.to_dict()
            ),
        )
    m = summary["monetary_value"].to_numpy()
    valued = m > 0
    x_valued, m_valued = x[valued], m[valued]
    repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]

    def theirs() -> dict[str, float]:
        fitted = lifetimes.GammaGammaFitter().fit(
            repeaters["frequency"], repeaters["monetary_value"]
        )
        params = fitted.params_.to_dict()
        return {"p": params["p"], "q": params["q"], "gamma": params["v"]}

    return lambda: GammaGamma().fit(x_valued, m_valued).params_, theirs


def pilotage_alone(customers: int, seed: int, models: tuple[str, ...]) -> float:
    """Peak resident memory (MB) of this process after simulating the synthetic customers and
    fitting the models with Pilotage only (run in a fresh process: lifetimes not loaded)."""
    synthetic = simulate_bgnbd(customers, seed)
    for model in models:
        ours, _ = fits(synthetic, model)
        ours()
    # VmHWM is this process's own high-water mark: getrusage's ru_maxrss would carry over
    # the parent's, inherited through fork and exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: an upper bound


def load_average() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdnow-dir", type=Path, default=DEFAULT_CDNOW)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=7, help="runs per fit on CDNOW")
    parser.add_argument("--large-repeat", type=int, default=3, help="runs per synthetic fit")
    parser.add_argument(
        "--budget", type=float, default=300, help="no new run of a fit after this many seconds"
    )
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    args = parser.parse_args()
    models = tuple(model for model in MODELS if model in args.models.split(","))
    global lifetimes
    try:
        import lifetimes
    except ImportError:
        sys.exit(INSTALL_HINT)
    print(
        f"lifetimes {lifetimes.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, {load_average()}"
    )

    start = time.perf_counter()
    source = cdnow_source(args.cdnow_dir / "CDNOW_master.txt", sample=False)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    master = customer_summary(
        source, calibration_end=date(1997, 9, 30), unit="week", include_zero_amount=True
    )
    print(
        f"CDNOW master: {len(master)} customers; load {loaded:.2f} s, summary in DuckDB "
        f"{time.perf_counter() - start:.2f} s"
    )
    for model in models:
        ours, theirs = compare(*fits(master, model), args.repeat, args.budget)
        row("CDNOW master 23,570", model, ours, theirs)

    start = time.perf_counter()
    synthetic = simulate_bgnbd(args.customers, args.seed)
    print(
        f"\nSynthetic: {args.customers} customers from BG/NBD {TRUE_BGNBD} and Gamma-Gamma "
        f"{TRUE_GAMMA_GAMMA}, simulated in {time.perf_counter() - start:.2f} s; repeat "
        f"buyers {(synthetic['frequency'] > 0).sum():,} ({load_average()})"
    )
    for model in models:
        ours, theirs = compare(*fits(synthetic, model), args.large_repeat, args.budget)
        row(f"synthetic {args.customers:,}", model, ours, theirs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of the whole run: {peak:.0f} MB; {load_average()}")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        alone = pool.apply(pilotage_alone, (args.customers, args.seed, models))
    print(
        f"peak resident memory of a fresh process that simulates the {args.customers:,} "
        f"customers and fits {', '.join(models)} with Pilotage only: {alone:.0f} MB"
    )


if __name__ == "__main__":
    main()
