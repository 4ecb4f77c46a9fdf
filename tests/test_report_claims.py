"""The claims scoreboard: verdicts follow from their stated tests, on hand-made glued values."""

from __future__ import annotations

import json
import math
import re

import pytest
from scipy import stats

from mmrec_lib.report.claims import (
    CLAIMS,
    PAGE_TITLES,
    VERDICTS,
    above_shuffled_labels,
    claim_values,
    concat_beats_sum,
    ordering,
    paired_seed_test,
    permutation_test,
    scoreboard,
    scoreboard_page,
    slug,
    welch_from_summaries,
)
from mmrec_lib.report.runbook import NOTEBOOK_DIR

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
    ours, found, numbers = judge(_paired(diff, p, n))
    assert found == verdict
    assert (f"n = {n} seeds" in ours) == (verdict != "inconclusive")
    assert (numbers["difference"], numbers["p_value"], numbers["n"]) == (diff, p, n)
    assert math.isnan(numbers["mean_with"])  # not glued here
    nothing = judge({})
    assert nothing[:2] == ("no paired runs yet", "inconclusive")
    assert set(nothing.numbers) == set(numbers)  # the same names, NaN: a page can cite them
    assert all(math.isnan(v) for v in nothing.numbers.values())


def test_welch_matches_scipy_and_a_lower_mean_is_not_reproduced():
    def glued(m1, m2):
        a = {"a_mean": m1, "a_standard_deviation": 0.01, "a_observations": 10}
        return {PAGE: {**a, "b_mean": m2, "b_standard_deviation": 0.02, "b_observations": 10}}

    judge = welch_from_summaries(PAGE, "a", "b", ("A", "B"))
    p = stats.ttest_ind_from_stats(0.5, 0.01, 10, 0.45, 0.02, 10, equal_var=False).pvalue
    ours, verdict, numbers = judge(glued(0.5, 0.45))
    assert verdict == "reproduced" and f"p = {p:.2g}" in ours
    assert numbers == {"a_mean": 0.5, "b_mean": 0.45, "p_value": pytest.approx(p), "n": 10}
    assert judge(glued(0.45, 0.5))[1] == "not reproduced"


def test_concatenation_against_summation_is_a_paired_test_over_four_sets():
    page = "41_paper_b_ablation_attention"
    rows = {4: 0.70, 5: 0.71, 6: 0.72, 7: 0.71, 8: 0.60, 9: 0.62, 10: 0.61, 11: 0.63}
    glued = {page: {f"paper_b_ablation_sasrecplus_row{r}": v for r, v in rows.items()}}
    ours, verdict, numbers = concat_beats_sum(page, "sasrecplus")(glued)
    assert verdict == "reproduced" and "+0.0950" in ours
    assert numbers["concat_mean"] == pytest.approx(0.71) and numbers["sum_mean"] == 0.615
    assert numbers["difference"] == pytest.approx(0.095)
    del glued[page]["paper_b_ablation_sasrecplus_row9"]
    assert concat_beats_sum(page, "sasrecplus")(glued)[1] == "inconclusive"


def test_an_ordering_holds_or_not():
    judge = ordering("p", {"x": "kx", "y": "ky"}, lambda v: v["x"] > v["y"], "unit")
    assert judge({"p": {"kx": 2, "ky": 1}})[:2] == ("x 2.0000, y 1.0000 (unit)", "reproduced")
    assert judge({"p": {"kx": 2, "ky": 1}}).numbers == {"x": 2, "y": 1}
    assert judge({"p": {"kx": 1, "ky": 2}})[1] == "not reproduced"
    missing = judge({"p": {"kx": 1}})
    assert missing.verdict == "inconclusive" and math.isnan(missing.numbers["y"])
    # a NaN glued for a value a small profile did not compute counts as missing
    assert judge({"p": {"kx": 1, "ky": float("nan")}}).verdict == "inconclusive"


def test_a_gain_interval_above_zero_or_not():
    from mmrec_lib.report.claims import gain_interval

    judge = gain_interval("p", "g", "n", "users")
    above = {"p": {"g": 0.02, "g_low": 0.01, "g_high": 0.03, "n": 40}}
    assert judge(above).verdict == "reproduced"
    assert judge(above).ours == "gain +0.0200 (95 % CI +0.0100 to +0.0300, n = 40 users)"
    spans = {"p": {"g": 0.01, "g_low": -0.01, "g_high": 0.03, "n": 40}}
    assert judge(spans).verdict == "not reproduced"
    assert judge({"p": {"g": 0.01, "g_low": 0.0, "g_high": 0.02, "n": 1}}).verdict == "inconclusive"
    assert math.isnan(judge({}).numbers["gain"])


def test_the_scoreboard_scores_at_least_ten_claims_of_both_papers_and_links_each():
    papers = {c.paper for c in CLAIMS}  # "A+B": a claim of both, tested beyond them
    assert len(CLAIMS) >= 10 and {"A", "B"} <= papers <= {"A", "B", "A+B"}
    rows = scoreboard({})
    assert all(row["verdict"] == "inconclusive" for row in rows)  # nothing run: nothing claimed
    page = scoreboard_page({})
    assert page.count("{ref}`") == len(CLAIMS)
    assert all(f"<{claim.anchor}>`" in page for claim in CLAIMS)
    assert all(row["verdict"] in VERDICTS for row in rows)
    assert len({claim.name for claim in CLAIMS}) == len(CLAIMS)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.name)
def test_every_claim_is_stated_on_its_page_with_its_verdict_after_its_anchor(claim):
    """The scoreboard links to ``(claim-<name>)=`` on the claim's page; the markdown after it
    cites the verdict the page glued, and every claim_ name it cites is one the page glues."""
    assert claim.page in PAGE_TITLES
    notebook = json.loads((NOTEBOOK_DIR / f"{claim.page}.ipynb").read_text())
    markdown = "\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )
    target = f"({claim.anchor})="
    assert markdown.count(target) == 1, f"{claim.page} lacks the target {target}"
    after = markdown.split(target)[1].split("\n\n")[0]
    assert f"{{glue:text}}`claim_{claim.name}_verdict`" in after
    glued = {f"claim_{name}" for name in claim_values(claim.page, {})}
    for cited in re.findall(r"\{glue:text\}`(claim_[a-z0-9_]+?)(?::[^`]*)?`", markdown):
        assert cited in glued, f"{claim.page} cites {cited}, which it never glues"


def test_claim_values_glue_every_claim_of_the_page_from_its_own_values():
    values = claim_values(
        "10_eda",
        {"eda_genre_image_knn_agreement": 0.5, "eda_genre_image_knn_shuffled": 0.2,
         "eda_genre_image_knn_shuffled_sd": 0.05},
    )  # fmt: skip
    assert values["a_poster_genre_verdict"] == "reproduced"
    assert values["a_poster_genre_z"] == pytest.approx(6.0)
    assert "z = 6.0" in values["a_poster_genre_ours"]
    on_page_40 = claim_values("40_paper_b_significance", {})
    assert {k.removesuffix("_verdict") for k in on_page_40 if k.endswith("_verdict")} == {
        "a_tsem_below_mf", "b_sasrec_plus", "b_bert4rec_plus", "b_sasrec_bert4rec"
    }  # fmt: skip
    assert claim_values("no_such_page", {}) == {}


@pytest.mark.parametrize(
    ("agreement", "sd", "verdict"),
    [(0.50, 0.05, "reproduced"), (0.30, 0.05, "not reproduced"), (0.25, 0.0, "reproduced"),
     (0.20, 0.0, "not reproduced")],
)  # fmt: skip
def test_an_embedding_groups_by_genre_only_well_above_shuffled_labels(agreement, sd, verdict):
    key = "eda_genre_image"
    glued = {"10_eda": {f"{key}_knn_agreement": agreement, f"{key}_knn_shuffled": 0.2,
                        f"{key}_knn_shuffled_sd": sd}}  # fmt: skip
    # 0.30 is 2 sd above chance: not enough; with no spread any excess is infinitely many sd
    assert above_shuffled_labels("10_eda", key)(glued).verdict == verdict
    assert above_shuffled_labels("10_eda", key)({}).verdict == "inconclusive"


def test_slug_names_labels_safely():
    assert slug("SASRec+") == "sasrecplus" and slug("row 4") == "row_4"
    assert slug("MF_NN") == "mf_nn"


def test_the_block_diagonal_claim_is_judged_by_its_permutation_p_value():
    page, key = "41_paper_b_ablation_attention", "paper_b_ablation_contrast"
    glued = {page: {f"{key}_behaviour": 0.2, f"{key}_null_mean": 0.0, f"{key}_p_value": 0.005}}
    assert permutation_test(page, key)(glued)[1] == "reproduced"
    glued[page][f"{key}_p_value"] = 0.3
    assert permutation_test(page, key)(glued)[1] == "not reproduced"
    assert permutation_test(page, key)({})[1] == "inconclusive"
