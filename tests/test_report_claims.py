"""The claims scoreboard: verdicts follow from their stated tests, on hand-made glued values."""

from __future__ import annotations

import pytest
from scipy import stats

from mmrec_lib.report.claims import (
    CLAIMS,
    VERDICTS,
    concat_beats_sum,
    ordering,
    paired_seed_test,
    permutation_test,
    scoreboard,
    scoreboard_page,
    welch_from_summaries,
)

PAGE = "40_paper_b_significance"


def _paired(diff: float, p: float, n: int) -> dict:
    key = "paper_b_table2_seeds_sasrecplus"
    return {PAGE: {f"{key}_mean_difference": diff, f"{key}_p_value": p,
                   f"{key}_observations": n}}  # fmt: skip


@pytest.mark.parametrize(
    ("diff", "p", "n", "verdict"),
    [(0.02, 0.001, 10, "reproduced"), (0.02, 0.2, 10, "not reproduced"),
     (-0.02, 0.001, 10, "not reproduced"), (0.02, 0.001, 1, "inconclusive")],
)  # fmt: skip
def test_a_paired_seed_test_needs_the_papers_direction_and_significance(diff, p, n, verdict):
    judge = paired_seed_test(PAGE, "paper_b_table2_seeds_sasrecplus", "SASRec+ - SASRec", 1)
    ours, found = judge(_paired(diff, p, n))
    assert found == verdict
    assert (f"n = {n} seeds" in ours) == (verdict != "inconclusive")
    assert judge({}) == ("no paired runs yet", "inconclusive")


def test_welch_matches_scipy_and_a_lower_mean_is_not_reproduced():
    def glued(m1, m2):
        a = {"a_mean": m1, "a_standard_deviation": 0.01, "a_observations": 10}
        return {PAGE: {**a, "b_mean": m2, "b_standard_deviation": 0.02, "b_observations": 10}}

    judge = welch_from_summaries(PAGE, "a", "b", ("A", "B"))
    p = stats.ttest_ind_from_stats(0.5, 0.01, 10, 0.45, 0.02, 10, equal_var=False).pvalue
    ours, verdict = judge(glued(0.5, 0.45))
    assert verdict == "reproduced" and f"p = {p:.2g}" in ours
    assert judge(glued(0.45, 0.5))[1] == "not reproduced"


def test_concatenation_against_summation_is_a_paired_test_over_four_sets():
    page = "41_paper_b_ablation_attention"
    rows = {4: 0.70, 5: 0.71, 6: 0.72, 7: 0.71, 8: 0.60, 9: 0.62, 10: 0.61, 11: 0.63}
    glued = {page: {f"paper_b_ablation_sasrecplus_row{r}": v for r, v in rows.items()}}
    ours, verdict = concat_beats_sum(page, "sasrecplus")(glued)
    assert verdict == "reproduced" and "+0.0950" in ours
    del glued[page]["paper_b_ablation_sasrecplus_row9"]
    assert concat_beats_sum(page, "sasrecplus")(glued)[1] == "inconclusive"


def test_an_ordering_holds_or_not():
    judge = ordering("p", {"x": "kx", "y": "ky"}, lambda v: v["x"] > v["y"], "unit")
    assert judge({"p": {"kx": 2, "ky": 1}}) == ("x 2.0000, y 1.0000 (unit)", "reproduced")
    assert judge({"p": {"kx": 1, "ky": 2}})[1] == "not reproduced"
    assert judge({"p": {"kx": 1}})[1] == "inconclusive"


def test_the_scoreboard_scores_at_least_ten_claims_of_both_papers_and_links_each():
    assert len(CLAIMS) >= 10 and {c.paper for c in CLAIMS} == {"A", "B"}
    rows = scoreboard({})
    assert all(row["verdict"] == "inconclusive" for row in rows)  # nothing run: nothing claimed
    page = scoreboard_page({})
    assert page.count("{doc}`") == len(CLAIMS)
    assert all(row["verdict"] in VERDICTS for row in rows)


def test_the_block_diagonal_claim_is_judged_by_its_permutation_p_value():
    page, key = "41_paper_b_ablation_attention", "paper_b_ablation_contrast"
    glued = {page: {f"{key}_behaviour": 0.2, f"{key}_null_mean": 0.0, f"{key}_p_value": 0.005}}
    assert permutation_test(page, key)(glued)[1] == "reproduced"
    glued[page][f"{key}_p_value"] = 0.3
    assert permutation_test(page, key)(glued)[1] == "not reproduced"
    assert permutation_test(page, key)({})[1] == "inconclusive"
