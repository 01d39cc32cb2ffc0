"""CLV model fits: Pilotage against lifetimes 0.11.3 on the same summaries, same run.

    .venv/bin/python benchmarks/clv.py [--cdnow-dir DIR] [--customers 1000000] [--seed 7]

1. The full CDNOW_master.txt (23,570 customers, calibration end 1997-09-30, weeks):
   BG/NBD, Pareto/NBD and Gamma-Gamma.
2. N synthetic customers (default 1,000,000) simulated from a BG/NBD with known
   parameters (numpy, seeded; continuous purchase times, so no two summaries are alike and
   Pilotage's merging of identical rows does not help): BG/NBD and Pareto/NBD fits.
For each fit: wall time (best of a few runs for the small data), peak memory of the fit
(tracemalloc, which numpy reports its arrays to), the estimates of both and whether they
agree to 3 significant digits. If lifetimes is not installed the baseline is skipped and
said so.
"""

from __future__ import annotations

import argparse
import gc
import resource
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

try:  # the baseline, only for this benchmark (unmaintained: not a Pilotage dependency)
    import lifetimes
except ImportError:  # pragma: no cover - depends on the machine
    lifetimes = None


def simulate_bgnbd(n: int, seed: int) -> pd.DataFrame:
    """x, t_x, T of n customers from a BG/NBD; T uniform in 1..52 weeks (weekly cohorts)."""
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
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": age})


def measure(fit: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """Result, best wall time (s) and peak traced memory (MB) of a fit."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    fit()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, best, peak / 1e6


def same_to_3_digits(left: dict[str, float], right: dict[str, float]) -> bool:
    return all(float(f"{left[k]:.3g}") == float(f"{right[k]:.3g}") for k in left)


def row(
    data: str,
    model: str,
    ours: tuple[dict[str, float], float, float],
    theirs: tuple[dict[str, float], float, float] | None,
) -> None:
    params, seconds, megabytes = ours
    shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items())
    print(f"{data:<22} {model:<12} pilotage  {seconds:8.3f} s {megabytes:8.1f} MB  {shown}")
    if theirs is None:
        print(f"{'':<22} {'':<12} lifetimes not installed: no baseline")
        return
    their_params, their_seconds, their_megabytes = theirs
    shown = ", ".join(f"{k}={v:.4g}" for k, v in their_params.items())
    print(f"{'':<22} {'':<12} lifetimes {their_seconds:8.3f} s {their_megabytes:8.1f} MB  {shown}")
    agree = same_to_3_digits(params, their_params)
    print(
        f"{'':<22} {'':<12} speed-up x{their_seconds / seconds:.1f}, memory x"
        f"{their_megabytes / megabytes:.1f}, same estimates to 3 significant digits: {agree}"
    )


def pilotage_fits(
    summary: pd.DataFrame, models: tuple[str, ...], repeat: int
) -> dict[str, tuple[dict[str, float], float, float]]:
    x = summary["frequency"].to_numpy()
    t_x = summary["recency"].to_numpy()
    age = summary["T"].to_numpy()
    results = {}
    if "bgnbd" in models:
        fitted, seconds, mb = measure(lambda: BetaGeo().fit(x, t_x, age), repeat)
        results["bgnbd"] = (fitted.params_, seconds, mb)
    if "pareto_nbd" in models:
        fitted, seconds, mb = measure(lambda: ParetoNBD().fit(x, t_x, age), repeat)
        results["pareto_nbd"] = (fitted.params_, seconds, mb)
    if "gamma_gamma" in models:
        m = summary["monetary_value"].to_numpy()
        valued = m > 0  # repeat days all worth $0.00 carry no spend information
        fitted, seconds, mb = measure(lambda: GammaGamma().fit(x[valued], m[valued]), repeat)
        results["gamma_gamma"] = (fitted.params_, seconds, mb)
    return results


def lifetimes_fits(
    summary: pd.DataFrame, models: tuple[str, ...], repeat: int
) -> dict[str, tuple[dict[str, float], float, float]]:
    if lifetimes is None:
        return {}
    x, t_x, age = summary["frequency"], summary["recency"], summary["T"]
    results = {}
    if "bgnbd" in models:
        fitted, seconds, mb = measure(lambda: lifetimes.BetaGeoFitter().fit(x, t_x, age), repeat)
        results["bgnbd"] = (fitted.params_.to_dict(), seconds, mb)
    if "pareto_nbd" in models:
        fitted, seconds, mb = measure(lambda: lifetimes.ParetoNBDFitter().fit(x, t_x, age), repeat)
        results["pareto_nbd"] = (fitted.params_.to_dict(), seconds, mb)
    if "gamma_gamma" in models:
        repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        fitted, seconds, mb = measure(
            lambda: lifetimes.GammaGammaFitter().fit(
                repeaters["frequency"], repeaters["monetary_value"]
            ),
            repeat,
        )
        params = fitted.params_.to_dict()
        results["gamma_gamma"] = (
            {"p": params["p"], "q": params["q"], "gamma": params["v"]},
            seconds,
            mb,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdnow-dir", type=Path, default=DEFAULT_CDNOW)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"lifetimes: {getattr(lifetimes, '__version__', 'not installed')}, numpy {np.__version__}"
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
    models = ("bgnbd", "pareto_nbd", "gamma_gamma")
    ours = pilotage_fits(master, models, repeat=3)
    theirs = lifetimes_fits(master, models, repeat=3)
    for model in models:
        row("CDNOW master 23,570", model, ours[model], theirs.get(model))

    start = time.perf_counter()
    synthetic = simulate_bgnbd(args.customers, args.seed)
    print(
        f"\nSynthetic: {args.customers} customers from BG/NBD {TRUE_BGNBD} "
        f"simulated in {time.perf_counter() - start:.2f} s; repeat buyers "
        f"{(synthetic['frequency'] > 0).mean():.1%}"
    )
    models = ("bgnbd", "pareto_nbd")
    ours = pilotage_fits(synthetic, models, repeat=1)
    theirs = lifetimes_fits(synthetic, models, repeat=1)
    for model in models:
        row(f"synthetic {args.customers:,}", model, ours[model], theirs.get(model))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
