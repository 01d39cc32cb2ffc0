"""Maximum-likelihood machinery shared by the CLV models.

Every model is fitted on the logarithm of its (positive) parameters, so the optimiser is
unconstrained, and the standard errors come from the inverse Hessian of the negative
log-likelihood. The Hessian is taken in log space (where the optimiser worked) and mapped
to the natural parameters by the delta method: at a maximum the gradient vanishes, so
cov(theta) = J cov(log theta) J with J = diag(theta) exactly to second order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize
from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")

# The derivative-free fits (Pareto/NBD) search the log parameters within +-this:
# parameters from 4.5e-5 to 22,026, beyond any published fit (CDNOW's Pareto/NBD: 0.55
# to 11.7 in weeks, 82 in days). Wider bounds let a diverging search spend its time
# where the likelihood needs its slow series: a 300-contact company took 56 s with
# bounds of +-15, 2.3 s with these.
LOG_PARAMETER_BOUND = 10.0

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray], float]
Gradient = Callable[[FloatArray], FloatArray]
ValueAndGradient = Callable[[FloatArray], tuple[float, FloatArray]]
Hessian = Callable[[FloatArray], FloatArray]


class ConvergenceError(RuntimeError):
    """The optimiser did not reach a maximum of the likelihood; the message says why."""


@dataclass(frozen=True)
class MaximumLikelihoodFit:
    params: dict[str, float]
    log_likelihood: float
    standard_errors: dict[str, float]
    covariance: FloatArray
    iterations: int
    converged: bool


def as_float_array(values: object, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a one-dimensional sequence of numbers")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains missing or infinite values")
    return array


def check_rfm(frequency: FloatArray, recency: FloatArray, age: FloatArray) -> None:
    """The (x, t_x, T) summary is internally consistent (people get a reason, not a NaN)."""
    if not (len(frequency) == len(recency) == len(age)):
        raise ValueError("frequency, recency and T must have the same length")
    if len(frequency) == 0:
        raise ValueError("no customers to fit on")
    if np.any(frequency < 0) or np.any(frequency != np.round(frequency)):
        raise ValueError("frequency: must be whole numbers >= 0 (repeat purchase days)")
    if np.any(recency < 0):
        raise ValueError("recency: must be >= 0")
    if np.any(recency > age * (1 + 1e-12) + 1e-12):
        raise ValueError("recency: must not exceed T (last purchase after the calibration end?)")
    if np.any((frequency == 0) & (recency != 0)):
        raise ValueError("recency: must be 0 for customers with no repeat purchase")
    if np.any(age <= 0):
        raise ValueError("T: must be > 0 (customers first seen on the calibration end date?)")


def compress_rows(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], FloatArray]:
    """Identical summary rows, once each, with their counts as weights.

    Real summaries in whole days repeat a lot (every one-time buyer of a given day has the
    same (0, 0, T)), so the likelihood is evaluated far fewer times. Hash-based grouping
    (pandas) is linear; numpy's unique(axis=0) sorts and is ten times slower at 1M rows.
    """
    frame = pd.DataFrame({f"c{i}": column for i, column in enumerate(columns)})
    sizes = frame.groupby(list(frame.columns), sort=True).size()
    unique = tuple(
        np.ascontiguousarray(sizes.index.get_level_values(i).to_numpy(dtype=np.float64))
        if len(columns) > 1
        else np.ascontiguousarray(sizes.index.to_numpy(dtype=np.float64))
        for i in range(len(columns))
    )
    return unique, np.asarray(sizes.to_numpy(), dtype=np.float64)


# Above this many distinct summaries, fits start from the estimate on a random subset of
# WARM_START_ROWS of them: the full data then needs a few iterations instead of dozens.
WARM_START_ABOVE = 50_000
WARM_START_ROWS = 20_000


def warm_start_rows(count: int, seed: int = 0) -> npt.NDArray[np.int64] | None:
    """Indices of a reproducible random subset for a warm start, or None for small data."""
    if count <= WARM_START_ABOVE:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, WARM_START_ROWS, replace=False)).astype(np.int64)


def _forward_gradient(function: Objective, point: FloatArray, value: float) -> FloatArray:
    """One-sided differences: half the evaluations of central ones, accurate to ~1e-8
    relative, plenty for the optimiser's search directions (not for the Hessian)."""
    gradient = np.empty_like(point)
    for i in range(len(point)):
        step = 1.5e-8 * max(1.0, abs(point[i]))
        moved = point.copy()
        moved[i] += step
        gradient[i] = (function(moved) - value) / step
    return gradient


def _numeric_gradient(function: Objective, point: FloatArray) -> FloatArray:
    gradient = np.empty_like(point)
    for i in range(len(point)):
        step = 1e-6 * max(1.0, abs(point[i]))
        forward = point.copy()
        backward = point.copy()
        forward[i] += step
        backward[i] -= step
        gradient[i] = (function(forward) - function(backward)) / (2 * step)
    return gradient


def hessian(function: Objective, point: FloatArray, gradient: Gradient | None) -> FloatArray:
    """Central-difference Hessian (of the gradient when it is analytic, else of the value)."""
    size = len(point)
    result = np.empty((size, size))
    if gradient is not None:
        for i in range(size):
            step = 1e-5 * max(1.0, abs(point[i]))
            forward = point.copy()
            backward = point.copy()
            forward[i] += step
            backward[i] -= step
            result[:, i] = (gradient(forward) - gradient(backward)) / (2 * step)
    else:
        steps = 1e-4 * np.maximum(1.0, np.abs(point))
        center = function(point)
        for i in range(size):
            for j in range(i, size):
                if i == j:
                    forward = point.copy()
                    backward = point.copy()
                    forward[i] += steps[i]
                    backward[i] -= steps[i]
                    value = (function(forward) - 2 * center + function(backward)) / steps[i] ** 2
                else:
                    corners = []
                    for sign_i, sign_j in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                        moved = point.copy()
                        moved[i] += sign_i * steps[i]
                        moved[j] += sign_j * steps[j]
                        corners.append(function(moved))
                    value = (corners[0] - corners[1] - corners[2] + corners[3]) / (
                        4 * steps[i] * steps[j]
                    )
                result[i, j] = result[j, i] = value
    return np.asarray((result + result.T) / 2, dtype=np.float64)


def _scaled_value_and_gradient(
    value_and_gradient: ValueAndGradient, penalizer: float, scale: float
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    def scaled(log_params: FloatArray) -> tuple[float, FloatArray]:
        value, grad = value_and_gradient(log_params)
        if penalizer:
            value += penalizer * float(np.sum(np.exp(2 * log_params)))
            grad = grad + penalizer * 2 * np.exp(2 * log_params)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(log_params)
        return value / scale, np.asarray(grad / scale, dtype=np.float64)

    return scaled


def _newton(
    value_gradient_hessian: Callable[[FloatArray], tuple[float, FloatArray, FloatArray]],
    start: FloatArray,
    *,
    gtol: float,
    max_iterations: int,
) -> optimize.OptimizeResult:
    """Minimise by exact Newton steps until the largest gradient component is below `gtol`
    (as BFGS's gtol).

    Newton steps converge quadratically once close, where a quasi-Newton method needs
    dozens of iterations to learn the curvature. They are kept in a trust region (scipy's
    trust-exact), which keeps them safe where the function is not convex. That method judges
    a step by the decrease of the value, which near the optimum falls below the rounding of
    the value: it can stop a step or two short of `gtol`. Plain Newton steps, which need no
    measurable decrease, then finish while they reduce the gradient (a few at most: each
    squares it)."""

    def value_and_gradient(point: FloatArray) -> tuple[float, FloatArray]:
        value, gradient, _ = value_gradient_hessian(point)
        return value, gradient

    result = optimize.minimize(
        value_and_gradient,
        start,
        jac=True,
        hess=lambda point: value_gradient_hessian(point)[2],
        method="trust-exact",
        options={"maxiter": max_iterations, "gtol": gtol},
    )
    if result.success or not np.all(np.isfinite(result.x)):
        return result
    point = np.asarray(result.x, dtype=np.float64)
    value, gradient, curvature = value_gradient_hessian(point)
    for _ in range(5):
        largest = float(np.max(np.abs(gradient)))
        if largest <= gtol:
            result.update(x=point, success=True, message="converged (Newton steps to finish)")
            break
        try:
            np.linalg.cholesky(curvature)  # a Newton step only where the model is convex
        except np.linalg.LinAlgError:
            break
        trial = point - np.linalg.solve(curvature, gradient)
        trial_value, trial_gradient, trial_curvature = value_gradient_hessian(trial)
        # The value carries the rounding of sums of large terms of both signs: a Newton step
        # this close may not lower it measurably, but must not raise it beyond that noise.
        noise = 1e-10 * max(1.0, abs(value))
        if not (trial_value <= value + noise and float(np.max(np.abs(trial_gradient))) < largest):
            break
        point, value, gradient, curvature = trial, trial_value, trial_gradient, trial_curvature
        result.update(x=point, nit=result.nit + 1)
    return result


def _one_blas_thread(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with BLAS on one thread: the fits' matrices are 3x3 or 4x4, and on a
    busy machine OpenBLAS's threads stall scipy's L-BFGS-B (a CDNOW Pareto/NBD fit took
    0.84 s with two threads at load average 5, 0.35 s with one)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper


def _check_inside_bounds(names: Sequence[str], log_params: FloatArray) -> None:
    at_bound = [
        name
        for name, value in zip(names, log_params, strict=True)
        if abs(value) >= LOG_PARAMETER_BOUND * (1 - 1e-6)
    ]
    if at_bound:
        raise ConvergenceError(
            f"no maximum of the likelihood: {', '.join(at_bound)} ran off to 0 or infinity "
            "(too few or too regular purchases for this model)"
        )


@_one_blas_thread
def fit_log_parameters(
    names: Sequence[str],
    negative_log_likelihood: Objective,
    initial: Sequence[float],
    *,
    gradient: Gradient | None = None,
    value_and_gradient: ValueAndGradient | None = None,
    analytic_hessian: Hessian | None = None,
    penalizer: float = 0.0,
    max_iterations: int = 2000,
    with_standard_errors: bool = True,
) -> MaximumLikelihoodFit:
    """Minimise `negative_log_likelihood(log_params)` (its total over customers).

    `gradient`, when given, is the gradient of the same function with respect to the log
    parameters; `value_and_gradient` (optional, with `gradient`) gives both in one pass.
    `analytic_hessian` (optional, with `gradient`) is its Hessian in the log parameters: the
    fit then takes Newton steps (a handful of iterations instead of BFGS's dozens), and the
    standard errors come from it instead of from finite differences.
    `penalizer` adds penalizer * sum(theta**2) (an L2 shrinkage of the natural parameters,
    to the total objective; the reported log-likelihood excludes it. (lifetimes adds it to
    the mean log-likelihood: its penalizer c is c x n here.)
    """
    start = np.log(np.asarray(initial, dtype=np.float64))
    scale = max(1.0, abs(negative_log_likelihood(start)))

    def objective(log_params: FloatArray) -> float:
        value = negative_log_likelihood(log_params)
        if penalizer:
            value += penalizer * float(np.sum(np.exp(2 * log_params)))
        return value / scale if np.isfinite(value) else np.inf

    def objective_gradient(log_params: FloatArray) -> FloatArray:
        grad = gradient(log_params) if gradient is not None else np.zeros_like(log_params)
        if penalizer:
            grad = grad + penalizer * 2 * np.exp(2 * log_params)
        return np.asarray(grad / scale, dtype=np.float64)

    def objective_hessian(log_params: FloatArray) -> FloatArray:
        assert analytic_hessian is not None
        curvature = analytic_hessian(log_params)
        if penalizer:
            curvature = curvature + np.diag(penalizer * 4 * np.exp(2 * log_params))
        return np.asarray(curvature / scale, dtype=np.float64)

    if gradient is not None and analytic_hessian is not None:
        value_and_scaled_gradient = (
            (lambda p: (objective(p), objective_gradient(p)))
            if value_and_gradient is None
            else _scaled_value_and_gradient(value_and_gradient, penalizer, scale)
        )
        result = _newton(
            lambda p: (*value_and_scaled_gradient(p), objective_hessian(p)),
            start,
            gtol=1e-9,
            max_iterations=max_iterations,
        )
    elif gradient is not None:
        # BFGS asks for the value and the gradient at the same points: compute both in one
        # pass when the model can (they share the expensive special functions).
        result = optimize.minimize(
            (lambda p: (objective(p), objective_gradient(p)))
            if value_and_gradient is None
            else _scaled_value_and_gradient(value_and_gradient, penalizer, scale),
            start,
            jac=True,
            method="BFGS",
            options={"maxiter": max_iterations, "gtol": 1e-9},
        )
    else:
        # Without an analytic gradient: L-BFGS-B on forward differences to get close, then
        # a few central-difference steps to polish the estimate to full precision.
        def value_and_forward(p: FloatArray) -> tuple[float, FloatArray]:
            value = objective(p)
            return value, _forward_gradient(objective, p, value)

        # Within bounds: on a base too small or too regular for the model, the likelihood
        # keeps rising as parameters run off together (Pareto/NBD's r and alpha to the
        # Poisson limit); unbounded, the search reached infinite parameters, where each
        # evaluation takes the slow series and the fit ran for many minutes.
        bounds = [(-LOG_PARAMETER_BOUND, LOG_PARAMETER_BOUND)] * len(start)
        result = optimize.minimize(
            value_and_forward,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-7},
        )
        _check_inside_bounds(names, result.x)
        result = optimize.minimize(
            objective,
            result.x,
            jac=lambda p: _numeric_gradient(objective, p),
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-9},
        )
        _check_inside_bounds(names, result.x)
    log_params = np.asarray(result.x, dtype=np.float64)
    final = negative_log_likelihood(log_params)
    if not np.isfinite(final):
        raise ConvergenceError(f"the likelihood is not finite at the optimum ({result.message})")

    def penalised(log_params: FloatArray) -> float:
        return objective(log_params) * scale

    penalised_gradient = (lambda p: objective_gradient(p) * scale) if gradient else None
    params = np.exp(log_params)
    if not with_standard_errors:  # a warm start: the estimate is all that is needed
        return MaximumLikelihoodFit(
            params={name: float(value) for name, value in zip(names, params, strict=True)},
            log_likelihood=-float(final),
            standard_errors={name: float("nan") for name in names},
            covariance=np.full((len(params), len(params)), np.nan),
            iterations=int(result.nit),
            converged=bool(result.success),
        )
    if analytic_hessian is not None:
        curvature = objective_hessian(log_params) * scale
    else:
        curvature = hessian(penalised, log_params, penalised_gradient)
    try:
        log_covariance = np.linalg.inv(curvature)
        jacobian = np.diag(params)
        covariance = jacobian @ log_covariance @ jacobian
        variances = np.diag(covariance)
        errors = np.where(variances >= 0, np.sqrt(np.abs(variances)), np.nan)
    except np.linalg.LinAlgError:
        covariance = np.full((len(params), len(params)), np.nan)
        errors = np.full(len(params), np.nan)
    gradient_norm = float(
        np.max(
            np.abs(
                objective_gradient(log_params) * scale
                if analytic_hessian is not None
                else _numeric_gradient(penalised, log_params)
            )
        )
    )
    converged = bool(result.success) or gradient_norm < 1e-3 * max(1.0, abs(final)) ** 0.5
    if not converged:
        raise ConvergenceError(
            f"the optimiser stopped before a maximum ({result.message}; "
            f"largest gradient {gradient_norm:.3g}): try other starting values"
        )
    if analytic_hessian is not None and not np.all(np.linalg.eigvalsh(curvature) > 0):
        # Newton steps follow a likelihood that keeps rising towards a boundary (a parameter
        # running to 0 or infinity) until the gradient vanishes: that is not a maximum.
        estimate = ", ".join(f"{n} = {v:.4g}" for n, v in zip(names, params, strict=True))
        raise ConvergenceError(
            "the likelihood has no maximum at finite parameters (too few customers, or too "
            f"alike?): the estimate ran to {estimate}"
        )
    return MaximumLikelihoodFit(
        params={name: float(value) for name, value in zip(names, params, strict=True)},
        log_likelihood=-float(final),
        standard_errors={name: float(e) for name, e in zip(names, errors, strict=True)},
        covariance=np.asarray(covariance, dtype=np.float64),
        iterations=int(result.nit),
        converged=converged,
    )
