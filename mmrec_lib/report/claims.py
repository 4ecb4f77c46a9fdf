"""The claims scoreboard: each claim of either paper, the paper's number, ours, the test behind
the verdict, and the verdict, built from the values the executed notebooks glued.

Verdicts:

- **reproduced**: our runs show the paper's effect, and the stated test finds it (two-sided,
  alpha = 0.05) or, where the claim is an ordering of point estimates, the ordering holds;
- **not reproduced**: our runs do not show it (the test finds no effect, or the opposite one,
  or the ordering does not hold);
- **inconclusive**: the runs needed are missing, or too few to test (fewer than two seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

ALPHA = 0.05
VERDICTS = ("reproduced", "not reproduced", "inconclusive")
Glued = Mapping[str, Mapping[str, object]]
"""Glued values by notebook stem, as :func:`mmrec_lib.report.runbook.glued_values` reads them."""


@dataclass(frozen=True)
class Claim:
    """One claim: who makes it, what it says, where our evidence is, and how it is judged."""

    paper: str
    text: str
    paper_number: str
    test: str
    page: str
    judge: Callable[[Glued], tuple[str, str]]
    """Glued values -> (our number, as text; verdict)."""


def _value(glued: Glued, page: str, key: str) -> float | None:
    value = glued.get(page, {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def paired_seed_test(page: str, key: str, better: str, paper_direction: int) -> Callable:
    """Judge a Table-2-style paired t-test over seeds glued under ``key`` (the "with" column):
    reproduced when the mean difference has ``paper_direction``'s sign and p < ALPHA."""

    def judge(glued: Glued) -> tuple[str, str]:
        diff = _value(glued, page, f"{key}_mean_difference")
        p = _value(glued, page, f"{key}_p_value")
        n = _value(glued, page, f"{key}_observations")
        if diff is None or p is None or n is None or n < 2:
            return "no paired runs yet", "inconclusive"
        ours = f"{better} {diff:+.4f}, p = {p:.2g} (n = {n:.0f} seeds)"
        return ours, "reproduced" if diff * paper_direction > 0 and p < ALPHA else "not reproduced"

    return judge


def ordering(page: str, keys: Mapping[str, str], claim: Callable[[dict], bool], unit: str):
    """Judge an ordering of point estimates: ``keys`` maps a label to a glued key; ``claim``
    says whether the values (by label) are ordered as the paper says."""

    def judge(glued: Glued) -> tuple[str, str]:
        values = {label: _value(glued, page, key) for label, key in keys.items()}
        if any(value is None for value in values.values()):
            return "not run", "inconclusive"
        ours = ", ".join(f"{label} {value:.4f}" for label, value in values.items())
        return f"{ours} ({unit})", "reproduced" if claim(values) else "not reproduced"

    return judge


def welch_from_summaries(page: str, first: str, second: str, labels: tuple[str, str]):
    """Judge "first > second" by Welch's t-test from glued means, standard deviations and
    counts over seeds (scipy.stats.ttest_ind_from_stats)."""

    def judge(glued: Glued) -> tuple[str, str]:
        from scipy import stats

        parts = [
            [_value(glued, page, f"{key}_{name}") for name in ("mean", "standard_deviation",
                                                               "observations")]
            for key in (first, second)
        ]  # fmt: skip
        if any(v is None for part in parts for v in part) or min(parts[0][2], parts[1][2]) < 2:
            return "no runs over seeds yet", "inconclusive"
        (m1, s1, n1), (m2, s2, n2) = parts
        p = stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue
        ours = f"{labels[0]} {m1:.4f} vs {labels[1]} {m2:.4f}, p = {p:.2g} (n = {n1:.0f} seeds)"
        return ours, "reproduced" if m1 > m2 and p < ALPHA else "not reproduced"

    return judge


def permutation_test(page: str, key: str):
    """Judge a glued one-sided permutation test (``<key>_behaviour``, ``<key>_null_mean``,
    ``<key>_p_value``): reproduced when p < ALPHA."""

    def judge(glued: Glued) -> tuple[str, str]:
        observed = _value(glued, page, f"{key}_behaviour")
        null = _value(glued, page, f"{key}_null_mean")
        p = _value(glued, page, f"{key}_p_value")
        if observed is None or null is None or p is None:
            return "not run", "inconclusive"
        ours = f"contrast {observed:.4f} vs {null:.4f} under relabelling, p = {p:.2g}"
        return ours, "reproduced" if p < ALPHA else "not reproduced"

    return judge


def concat_beats_sum(page: str, model: str):
    """Judge "concatenation beats summation" on Table 3 by a paired t-test over the four
    modality sets (rows 4-7 against rows 8-11)."""

    def judge(glued: Glued) -> tuple[str, str]:
        from scipy import stats

        concat = [_value(glued, page, f"paper_b_ablation_{model}_row{r}") for r in (4, 5, 6, 7)]
        summed = [_value(glued, page, f"paper_b_ablation_{model}_row{r}") for r in (8, 9, 10, 11)]
        if None in concat or None in summed:
            return "not all of rows 4-11 run", "inconclusive"
        diffs = [c - s for c, s in zip(concat, summed, strict=True)]
        p = stats.ttest_rel(concat, summed).pvalue
        mean = sum(diffs) / 4
        ours = f"concat - sum {mean:+.4f}, p = {p:.2g} (4 modality sets)"
        return ours, "reproduced" if mean > 0 and p < ALPHA else "not reproduced"

    return judge


def _table1(model: str) -> str:
    return f"table1_{model}_sampled_NDCGat10"


def _b1(values: dict) -> bool:
    return values["SASRec+"] == max(values.values())


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "A", "TSEM predicts ratings with a lower error than MF", "MSE 0.61 vs 0.72 (Table 9)",
        "paired t-test of test RMSE over training seeds (TSEM - MF)", "40_paper_b_significance",
        paired_seed_test("40_paper_b_significance", "paper_b_table2_rating_tsem", "TSEM - MF RMSE",
                         -1),
    ),
    Claim(
        "A", "TSEM has the lowest error of paper A's four models", "MSE 0.61 (Table 9)",
        "test MSE of one run per model (point estimates)", "20_paper_a_rating",
        ordering("20_paper_a_rating", {m: f"a_rating_{k}_mse" for m, k in
                 (("NN", "nn"), ("MF", "mf"), ("MF_NN", "mf_nn"), ("TSEM", "tsem"))},
                 lambda v: v["TSEM"] == min(v.values()), "test MSE, one run"),
    ),
    Claim(
        "A", "MF_NN predicts ratings better than MF", "MSE 0.63 vs 0.72 (Table 9)",
        "test MSE of one run per model (point estimates)", "20_paper_a_rating",
        ordering("20_paper_a_rating", {"MF_NN": "a_rating_mf_nn_mse", "MF": "a_rating_mf_mse"},
                 lambda v: v["MF_NN"] < v["MF"], "test MSE, one run"),
    ),
    Claim(
        "A", "NN is the weakest of paper A's four models", "MSE 1.12 (Table 9)",
        "test MSE of one run per model (point estimates)", "20_paper_a_rating",
        ordering("20_paper_a_rating", {m: f"a_rating_{k}_mse" for m, k in
                 (("NN", "nn"), ("MF", "mf"), ("MF_NN", "mf_nn"), ("TSEM", "tsem"))},
                 lambda v: v["NN"] == max(v.values()), "test MSE, one run"),
    ),
    Claim(
        "B", "SASRec+ beats SASRec, p < 0.01", "+0.027 NDCG@10, p = 0.0028 (ML-20M, Table 2)",
        "paired t-test of NDCG@10 over training seeds (SASRec+ - SASRec)",
        "40_paper_b_significance",
        paired_seed_test("40_paper_b_significance", "paper_b_table2_seeds_sasrecplus",
                         "SASRec+ - SASRec", 1),
    ),
    Claim(
        "B", "BERT4Rec+ beats BERT4Rec, p < 0.01", "+0.017 NDCG@10, p = 2.7e-13 (ML-20M, Table 2)",
        "paired t-test of NDCG@10 over training seeds (BERT4Rec+ - BERT4Rec)",
        "40_paper_b_significance",
        paired_seed_test("40_paper_b_significance", "paper_b_table2_seeds_bert4recplus",
                         "BERT4Rec+ - BERT4Rec", 1),
    ),
    Claim(
        "B", "SASRec beats BERT4Rec", "NDCG@10 0.679 vs 0.445 (ML-20M, Table 1)",
        "Welch's t-test of NDCG@10 over training seeds", "40_paper_b_significance",
        welch_from_summaries("40_paper_b_significance", "paper_b_table2_seeds_sasrec",
                             "paper_b_table2_seeds_bert4rec", ("SASRec", "BERT4Rec")),
    ),
    Claim(
        "B", "SASRec+ is the best model of Table 1", "NDCG@10 0.706, +4.0 % (ML-20M)",
        "sampled NDCG@10, mean over seeds (point estimates)", "30_paper_b_table1",
        ordering("30_paper_b_table1", {label: _table1(key) for label, key in
                 (("SASRec+", "sasrecplus"), ("SASRec", "sasrec"), ("BERT4Rec+", "bert4recplus"),
                  ("BERT4Rec", "bert4rec"), ("KeBERT4Rec", "kebert4rec"),
                  ("TransRec", "transrec"), ("BPR", "bpr"), ("PopRec", "poprec"))},
                 _b1, "sampled NDCG@10"),
    ),
    Claim(
        "B", "Sequential models beat popularity and BPR", "NDCG@10 0.679 vs 0.396 / 0.043 (ML-20M)",
        "sampled NDCG@10, mean over seeds (point estimates)", "30_paper_b_table1",
        ordering("30_paper_b_table1", {"SASRec": _table1("sasrec"), "BPR": _table1("bpr"),
                                       "PopRec": _table1("poprec")},
                 lambda v: v["SASRec"] > v["BPR"] > v["PopRec"], "sampled NDCG@10"),
    ),
    Claim(
        "B", "Concatenation beats summation for SASRec+",
        "rows 4-7 mean 0.708 vs 8-11 0.675 (ML-20M)",
        "paired t-test over the four modality sets (Table 3 rows 4-7 vs 8-11)",
        "41_paper_b_ablation_attention",
        concat_beats_sum("41_paper_b_ablation_attention", "sasrecplus"),
    ),
    Claim(
        "B", "All three modalities beat any single one for SASRec+",
        "0.706 vs 0.703 / 0.686 / 0.688 (ML-20M, Table 3)",
        "NDCG@10, mean over seeds (point estimates)", "41_paper_b_ablation_attention",
        ordering("41_paper_b_ablation_attention",
                 {f"row {r}": f"paper_b_ablation_sasrecplus_row{r}" for r in (4, 1, 2, 3)},
                 lambda v: v["row 4"] > max(v["row 1"], v["row 2"], v["row 3"]), "NDCG@10"),
    ),
    Claim(
        "B", "Users of one behaviour cluster attend alike: the heatmap is block-diagonal",
        "Fig 3 (visual)", "block contrast of the behaviour clusters against its distribution "
        "over 200 random relabellings (one-sided permutation test)",
        "41_paper_b_ablation_attention",
        permutation_test("41_paper_b_ablation_attention", "paper_b_ablation_contrast"),
    ),
)  # fmt: skip


def scoreboard(glued: Glued) -> list[dict[str, str]]:
    """One row per claim: paper, claim, the paper's number, ours, test, verdict, page."""
    rows = []
    for claim in CLAIMS:
        ours, verdict = claim.judge(glued)
        rows.append(
            {
                "paper": claim.paper,
                "claim": claim.text,
                "paper's number": claim.paper_number,
                "ours": ours,
                "test": claim.test,
                "verdict": verdict,
                "page": claim.page,
            }
        )
    return rows


def scoreboard_page(glued: Glued) -> str:
    """The scoreboard as a MyST page (each row links to the page holding its evidence)."""
    rows = scoreboard(glued)
    counts = {v: sum(row["verdict"] == v for row in rows) for v in VERDICTS}
    lines = [
        "# The papers' claims, scored",
        "",
        "```{include} banner.md",
        "```",
        "",
        f"{len(rows)} claims: {counts['reproduced']} reproduced, "
        f"{counts['not reproduced']} not reproduced, {counts['inconclusive']} inconclusive on "
        "this build's data. A claim is *reproduced* when our runs show the paper's effect and "
        f"the stated test finds it (two-sided, alpha = {ALPHA}) or, for an ordering of point "
        "estimates, the ordering holds; *not reproduced* otherwise; *inconclusive* when the "
        "runs it needs are missing or too few to test. The paper's numbers are as printed.",
        "",
        "| paper | claim | paper's number | ours | test | verdict | evidence |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        link = f"{{doc}}`{row['page']} <../executed/{row['page']}>`"
        cells = [row[k] for k in ("paper", "claim", "paper's number", "ours", "test")]
        lines.append("| " + " | ".join([*cells, f"**{row['verdict']}**", link]) + " |")
    return "\n".join(lines) + "\n"
