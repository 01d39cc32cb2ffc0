"""Customer lifetime value and churn risk (scoring.md section 4).

Feature building (`summary`) is kept apart from the models, which follow scikit-learn's
conventions: hyperparameters in `__init__`, `fit` returns self, learned values end in `_`.

    summary = customer_summary(source, calibration_end=date(1997, 9, 30), unit="week")
    bgnbd = BetaGeo().fit(summary["frequency"], summary["recency"], summary["T"])
    bgnbd.params_, bgnbd.log_likelihood_, bgnbd.standard_errors_
    bgnbd.conditional_probability_alive(x, t_x, T)
"""

from pilotage.clv._fitting import ConvergenceError
from pilotage.clv.analysis import ClvResult, FittedModel, clv_analysis
from pilotage.clv.bgnbd import BetaGeo
from pilotage.clv.gamma_gamma import GammaGamma
from pilotage.clv.pareto_nbd import ParetoNBD
from pilotage.clv.report import calibration_holdout_html, calibration_holdout_report
from pilotage.clv.sbg import ShiftedBetaGeometric
from pilotage.clv.summary import customer_summary, customer_summary_expression
from pilotage.clv.value import customer_lifetime_value

__all__ = [
    "BetaGeo",
    "ClvResult",
    "ConvergenceError",
    "FittedModel",
    "GammaGamma",
    "ParetoNBD",
    "ShiftedBetaGeometric",
    "calibration_holdout_html",
    "calibration_holdout_report",
    "clv_analysis",
    "customer_lifetime_value",
    "customer_summary",
    "customer_summary_expression",
]
