"""Paired t-test of a metric with and without a change (paper B, Table 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class PairedTTest:
    """Result of :func:`paired_ttest`; the difference is always b - a ("with" minus "without").

    std_a, std_b: sample standard deviations (ddof=1). ci95_low, ci95_high: two-sided 95 %
    confidence interval of the mean difference b - a, whatever the alternative.
    unit: what one pair is, e.g. "seed" (one training run) or "user".
    """

    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    n: int
    dof: int
    t: float
    p: float
    mean_diff: float
    ci95_low: float
    ci95_high: float
    unit: str
    alternative: str

    def to_frame(self, label_a: str = "without", label_b: str = "with") -> pd.DataFrame:
        """The paper's Table 2 layout: one column per sample; shared statistics under b.

        Rows: Mean, Standard deviation, Observations, degrees of freedom, t statistic,
        p-value. The pair-level rows (dof, t, p) are NaN in column a, as in the paper where
        they span both columns.
        """
        rows = {
            "Mean": (self.mean_a, self.mean_b),
            "Standard deviation": (self.std_a, self.std_b),
            "Observations": (self.n, self.n),
            "degrees of freedom": (np.nan, self.dof),
            "t statistic": (np.nan, self.t),
            "p-value": (np.nan, self.p),
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=[label_a, label_b])


def paired_ttest(
    a: ArrayLike, b: ArrayLike, unit: str, alternative: str = "two-sided"
) -> PairedTTest:
    """Paired t-test of b against a (scipy.stats.ttest_rel on b, a).

    a, b: one value per pair (e.g. NDCG@10 per seed, a = without, b = with auxiliary
    information). alternative: "greater" tests mean(b - a) > 0, "less" tests < 0.
    """
    from scipy import stats

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {len(a)}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("a and b contain NaN; drop those pairs first")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    if not unit:
        raise ValueError('unit must say what is paired, e.g. "seed" or "user"')

    result = stats.ttest_rel(b, a, alternative=alternative)
    diff = b - a
    n = len(diff)
    mean_diff = float(diff.mean())
    half_width = stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n)
    return PairedTTest(
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        std_a=float(a.std(ddof=1)),
        std_b=float(b.std(ddof=1)),
        n=n,
        dof=n - 1,
        t=float(result.statistic),
        p=float(result.pvalue),
        mean_diff=mean_diff,
        ci95_low=float(mean_diff - half_width),
        ci95_high=float(mean_diff + half_width),
        unit=unit,
        alternative=alternative,
    )
