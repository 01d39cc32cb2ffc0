from __future__ import annotations

import numpy as np

from pilotage.clv._fitting import _newton


def test_newton_finishes_where_the_trust_region_cannot_tell_values_apart() -> None:
    """A smooth convex function on a large constant: near its minimum the decrease of a step
    is below the rounding of the value (1e8 * 2.2e-16), where a trust-region method stops
    short of the gradient tolerance; plain Newton steps then finish the job."""
    centre = np.array([1.0, -2.0, 0.5])

    def value_gradient_hessian(point: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        shift = point - centre
        value = 1e8 + float(np.sum(np.cosh(shift)))
        return value, np.sinh(shift), np.diag(np.cosh(shift))

    result = _newton(value_gradient_hessian, np.zeros(3), gtol=1e-12, max_iterations=100)
    assert result.success
    np.testing.assert_allclose(result.x, centre, atol=1e-12)
    assert np.max(np.abs(value_gradient_hessian(result.x)[1])) <= 1e-12
