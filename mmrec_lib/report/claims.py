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

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

ALPHA = 0.05
VERDICTS = ("reproduced", "not reproduced", "inconclusive")
Glued = Mapping[str, Mapping[str, object]]
"""Glued values by notebook stem, as :func:`mmrec_lib.report.runbook.glued_values` reads them."""
NAN = float("nan")

PAGE_TITLES = {
    "10_eda": "Exploring the data",
    "20_paper_a_rating": "Paper A, Table 9",
    "30_paper_b_table1": "Paper B, Table 1",
    "40_paper_b_significance": "Paper B, Table 2",
    "41_paper_b_ablation_attention": "Paper B, Table 3 and Fig. 3",
    "50_side_information": "Beyond the papers: where side information helps",
}
"""Short titles of the pages that state a claim's result (the scoreboard's link text)."""


class Judgement(NamedTuple):
    """What a claim's test found: our number as text, the verdict, and the numbers behind
    them by name (NaN where the runs are missing), which the page's prose cites."""

    ours: str
    verdict: str
    numbers: dict[str, float] = {}


@dataclass(frozen=True)
class Claim:
    """One claim: who makes it, what it says, where our evidence is, and how it is judged.

    ``name`` is the claim's glue-safe name: its page glues ``claim_<name>_verdict``,
    ``claim_<name>_ours`` and ``claim_<name>_<number>`` (:func:`claim_values`), and states the
    result in a sentence after the target ``(claim-<name>)=`` (:attr:`anchor`, with "-" for
    "_"), to which the scoreboard links.
    """

    name: str
    paper: str
    text: str
    paper_number: str
    test: str
    page: str
    judge: Callable[[Glued], Judgement] = field(repr=False)
    """Glued values -> :class:`Judgement`."""

    @property
    def anchor(self) -> str:
        return "claim-" + self.name.replace("_", "-")


def _value(glued: Glued, page: str, key: str) -> float | None:
    value = glued.get(page, {}).get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return None
    return float(value)


def _number(value: float | None) -> float:
    return NAN if value is None else value


def slug(label: str) -> str:
    """A glue-safe lower-case name for a label ("SASRec+" -> "sasrecplus", "row 4" ->
    "row_4")."""
    return re.sub(r"[^a-z0-9]+", "_", label.replace("+", "plus").lower()).strip("_")


def paired_seed_test(
    page: str, key: str, better: str, paper_direction: int, baseline: str | None = None
) -> Callable:
    """Judge a Table-2-style paired t-test over seeds glued under ``key`` (the "with" column;
    ``baseline`` the "without" column, for its mean): reproduced when the mean difference has
    ``paper_direction``'s sign and p < ALPHA.

    Numbers: ``mean_with``, ``mean_without``, ``difference``, ``p_value``, ``n``.
    """

    def judge(glued: Glued) -> Judgement:
        diff = _value(glued, page, f"{key}_mean_difference")
        p = _value(glued, page, f"{key}_p_value")
        n = _value(glued, page, f"{key}_observations")
        numbers = {
            "mean_with": _number(_value(glued, page, f"{key}_mean")),
            "mean_without": _number(baseline and _value(glued, page, f"{baseline}_mean")),
            "difference": _number(diff),
            "p_value": _number(p),
            "n": _number(n),
        }
        if diff is None or p is None or n is None or n < 2:
            return Judgement("no paired runs yet", "inconclusive", numbers)
        ours = f"{better} {diff:+.4f}, p = {p:.2g} (n = {n:.0f} seeds)"
        found = diff * paper_direction > 0 and p < ALPHA
        return Judgement(ours, "reproduced" if found else "not reproduced", numbers)

    return judge


def ordering(page: str, keys: Mapping[str, str], claim: Callable[[dict], bool], unit: str):
    """Judge an ordering of point estimates: ``keys`` maps a label to a glued key; ``claim``
    says whether the values (by label) are ordered as the paper says.

    Numbers: each value under its label's :func:`slug`.
    """

    def judge(glued: Glued) -> Judgement:
        values = {label: _value(glued, page, key) for label, key in keys.items()}
        numbers = {slug(label): _number(value) for label, value in values.items()}
        if any(value is None for value in values.values()):
            return Judgement("not run", "inconclusive", numbers)
        ours = ", ".join(f"{label} {value:.4f}" for label, value in values.items())
        verdict = "reproduced" if claim(values) else "not reproduced"
        return Judgement(f"{ours} ({unit})", verdict, numbers)

    return judge


def welch_from_summaries(page: str, first: str, second: str, labels: tuple[str, str]):
    """Judge "first > second" by Welch's t-test from glued means, standard deviations and
    counts over seeds (scipy.stats.ttest_ind_from_stats).

    Numbers: ``<label>_mean`` of both (by :func:`slug`), ``p_value``, ``n`` (of the first).
    """

    def judge(glued: Glued) -> Judgement:
        from scipy import stats

        parts = [
            [_value(glued, page, f"{key}_{name}") for name in ("mean", "standard_deviation",
                                                               "observations")]
            for key in (first, second)
        ]  # fmt: skip
        numbers = {
            f"{slug(labels[0])}_mean": _number(parts[0][0]),
            f"{slug(labels[1])}_mean": _number(parts[1][0]),
            "p_value": NAN,
            "n": _number(parts[0][2]),
        }
        if any(v is None for part in parts for v in part) or min(parts[0][2], parts[1][2]) < 2:
            return Judgement("no runs over seeds yet", "inconclusive", numbers)
        (m1, s1, n1), (m2, s2, n2) = parts
        p = stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue
        numbers["p_value"] = float(p)
        ours = f"{labels[0]} {m1:.4f} vs {labels[1]} {m2:.4f}, p = {p:.2g} (n = {n1:.0f} seeds)"
        found = m1 > m2 and p < ALPHA
        return Judgement(ours, "reproduced" if found else "not reproduced", numbers)

    return judge


def permutation_test(page: str, key: str):
    """Judge a glued one-sided permutation test (``<key>_behaviour``, ``<key>_null_mean``,
    ``<key>_p_value``): reproduced when p < ALPHA.

    Numbers: ``contrast``, ``null_mean``, ``p_value``.
    """

    def judge(glued: Glued) -> Judgement:
        observed = _value(glued, page, f"{key}_behaviour")
        null = _value(glued, page, f"{key}_null_mean")
        p = _value(glued, page, f"{key}_p_value")
        numbers = {"contrast": _number(observed), "null_mean": _number(null),
                   "p_value": _number(p)}  # fmt: skip
        if observed is None or null is None or p is None:
            return Judgement("not run", "inconclusive", numbers)
        ours = f"contrast {observed:.4f} vs {null:.4f} under relabelling, p = {p:.2g}"
        return Judgement(ours, "reproduced" if p < ALPHA else "not reproduced", numbers)

    return judge


def concat_beats_sum(page: str, model: str):
    """Judge "concatenation beats summation" on Table 3 by a paired t-test over the four
    modality sets (rows 4-7 against rows 8-11).

    Numbers: ``concat_mean``, ``sum_mean``, ``difference``, ``p_value``.
    """

    def judge(glued: Glued) -> Judgement:
        from scipy import stats

        concat = [_value(glued, page, f"paper_b_ablation_{model}_row{r}") for r in (4, 5, 6, 7)]
        summed = [_value(glued, page, f"paper_b_ablation_{model}_row{r}") for r in (8, 9, 10, 11)]
        numbers = dict.fromkeys(("concat_mean", "sum_mean", "difference", "p_value"), NAN)
        if None in concat or None in summed:
            return Judgement("not all of rows 4-11 run", "inconclusive", numbers)
        diffs = [c - s for c, s in zip(concat, summed, strict=True)]
        p = float(stats.ttest_rel(concat, summed).pvalue)
        mean = sum(diffs) / 4
        numbers.update(concat_mean=sum(concat) / 4, sum_mean=sum(summed) / 4, difference=mean,
                       p_value=p)  # fmt: skip
        ours = f"concat - sum {mean:+.4f}, p = {p:.2g} (4 modality sets)"
        found = mean > 0 and p < ALPHA
        return Judgement(ours, "reproduced" if found else "not reproduced", numbers)

    return judge


def above_shuffled_labels(page: str, key: str, sds: float = 3.0):
    """Judge "the embedding groups items by label" from a glued genre-agreement row
    (``<key>_knn_agreement``, ``<key>_knn_shuffled``, ``<key>_knn_shuffled_sd``; see
    :func:`mmrec_lib.analysis.similarity.genre_agreement`): reproduced when the observed
    agreement exceeds its mean under shuffled labels by more than ``sds`` of their standard
    deviations.

    Numbers: ``agreement``, ``shuffled``, ``shuffled_sd``, ``z`` (the excess in standard
    deviations).
    """

    def judge(glued: Glued) -> Judgement:
        observed, shuffled, sd = (
            _value(glued, page, f"{key}_{name}")
            for name in ("knn_agreement", "knn_shuffled", "knn_shuffled_sd")
        )
        numbers = {"agreement": _number(observed), "shuffled": _number(shuffled),
                   "shuffled_sd": _number(sd), "z": NAN}  # fmt: skip
        if observed is None or shuffled is None or sd is None:
            return Judgement("not run", "inconclusive", numbers)
        excess = observed - shuffled
        z = excess / sd if sd > 0 else math.copysign(math.inf, excess) if excess else 0.0
        numbers["z"] = z
        ours = f"agreement {observed:.3f} vs {shuffled:.3f} (sd {sd:.3f}) shuffled, z = {z:.1f}"
        return Judgement(ours, "reproduced" if z > sds else "not reproduced", numbers)

    return judge


def gain_interval(page: str, key: str, n_key: str, unit: str) -> Callable:
    """Judge a paired gain glued as ``<key>``, ``<key>_low``, ``<key>_high`` (its 95 % CI) over
    ``<n_key>`` pairs: reproduced when the CI lies above zero, not reproduced otherwise,
    inconclusive with fewer than two pairs.

    Numbers: ``gain``, ``low``, ``high``, ``n``.
    """

    def judge(glued: Glued) -> Judgement:
        gain, low, high, n = (
            _value(glued, page, name) for name in (key, f"{key}_low", f"{key}_high", n_key)
        )
        numbers = {"gain": _number(gain), "low": _number(low), "high": _number(high),
                   "n": _number(n)}  # fmt: skip
        if gain is None or low is None or high is None or n is None or n < 2:
            return Judgement("too few paired runs", "inconclusive", numbers)
        ours = f"gain {gain:+.4f} (95 % CI {low:+.4f} to {high:+.4f}, n = {n:.0f} {unit})"
        return Judgement(ours, "reproduced" if low > 0 else "not reproduced", numbers)

    return judge


def _table1(model: str) -> str:
    return f"table1_{model}_sampled_NDCGat10"


def _b1(values: dict) -> bool:
    return values["SASRec+"] == max(values.values())


_A_MODELS = (("NN", "nn"), ("MF", "mf"), ("MF_NN", "mf_nn"), ("TSEM", "tsem"))
_B_TABLE1 = (("SASRec+", "sasrecplus"), ("SASRec", "sasrec"), ("BERT4Rec+", "bert4recplus"),
             ("BERT4Rec", "bert4rec"), ("KeBERT4Rec", "kebert4rec"), ("TransRec", "transrec"),
             ("BPR", "bpr"), ("PopRec", "poprec"))  # fmt: skip
_EDA, _A9 = "10_eda", "20_paper_a_rating"
_B1, _B2, _B3 = "30_paper_b_table1", "40_paper_b_significance", "41_paper_b_ablation_attention"
_SIDE = "50_side_information"

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "a_poster_genre", "A",
        "Posters of one genre share a colour palette: a poster embedding groups movies by genre",
        "section 6 (no number)",
        "share of each movie's 10 nearest poster-embedding neighbours with its primary genre, "
        "against 20 shuffles of the genres: reproduced above the shuffled mean + 3 sd",
        _EDA, above_shuffled_labels(_EDA, "eda_genre_image"),
    ),
    Claim(
        "a_tsem_below_mf", "A", "TSEM predicts ratings with a lower error than MF",
        "MSE 0.61 vs 0.72 (Table 9)",
        "paired t-test of test RMSE over training seeds (TSEM - MF)", _B2,
        paired_seed_test(_B2, "paper_b_table2_rating_tsem", "TSEM - MF RMSE", -1,
                         baseline="paper_b_table2_rating_mf"),
    ),
    Claim(
        "a_tsem_best", "A", "TSEM has the lowest error of paper A's four models",
        "MSE 0.61 (Table 9)", "test MSE of one run per model (point estimates)", _A9,
        ordering(_A9, {m: f"a_rating_{k}_mse" for m, k in _A_MODELS},
                 lambda v: v["TSEM"] == min(v.values()), "test MSE, one run"),
    ),
    Claim(
        "a_mf_nn_below_mf", "A", "MF_NN predicts ratings better than MF",
        "MSE 0.63 vs 0.72 (Table 9)", "test MSE of one run per model (point estimates)", _A9,
        ordering(_A9, {"MF_NN": "a_rating_mf_nn_mse", "MF": "a_rating_mf_mse"},
                 lambda v: v["MF_NN"] < v["MF"], "test MSE, one run"),
    ),
    Claim(
        "a_nn_weakest", "A", "NN is the weakest of paper A's four models", "MSE 1.12 (Table 9)",
        "test MSE of one run per model (point estimates)", _A9,
        ordering(_A9, {m: f"a_rating_{k}_mse" for m, k in _A_MODELS},
                 lambda v: v["NN"] == max(v.values()), "test MSE, one run"),
    ),
    Claim(
        "b_sasrec_plus", "B", "SASRec+ beats SASRec, p < 0.01",
        "+0.027 NDCG@10, p = 0.0028 (ML-20M, Table 2)",
        "paired t-test of NDCG@10 over training seeds (SASRec+ - SASRec)", _B2,
        paired_seed_test(_B2, "paper_b_table2_seeds_sasrecplus", "SASRec+ - SASRec", 1,
                         baseline="paper_b_table2_seeds_sasrec"),
    ),
    Claim(
        "b_bert4rec_plus", "B", "BERT4Rec+ beats BERT4Rec, p < 0.01",
        "+0.017 NDCG@10, p = 2.7e-13 (ML-20M, Table 2)",
        "paired t-test of NDCG@10 over training seeds (BERT4Rec+ - BERT4Rec)", _B2,
        paired_seed_test(_B2, "paper_b_table2_seeds_bert4recplus", "BERT4Rec+ - BERT4Rec", 1,
                         baseline="paper_b_table2_seeds_bert4rec"),
    ),
    Claim(
        "b_sasrec_bert4rec", "B", "SASRec beats BERT4Rec",
        "NDCG@10 0.679 vs 0.445 (ML-20M, Table 1)",
        "Welch's t-test of NDCG@10 over training seeds", _B2,
        welch_from_summaries(_B2, "paper_b_table2_seeds_sasrec", "paper_b_table2_seeds_bert4rec",
                             ("SASRec", "BERT4Rec")),
    ),
    Claim(
        "b_sasrec_plus_best", "B", "SASRec+ is the best model of Table 1",
        "NDCG@10 0.706, +4.0 % (ML-20M)", "sampled NDCG@10, mean over seeds (point estimates)",
        _B1,
        ordering(_B1, {label: _table1(key) for label, key in _B_TABLE1}, _b1, "sampled NDCG@10"),
    ),
    Claim(
        "b_sequential_beats_bpr", "B", "Sequential models beat popularity and BPR",
        "NDCG@10 0.679 vs 0.396 / 0.043 (ML-20M)",
        "sampled NDCG@10, mean over seeds (point estimates)", _B1,
        ordering(_B1, {"SASRec": _table1("sasrec"), "BPR": _table1("bpr"),
                       "PopRec": _table1("poprec")},
                 lambda v: v["SASRec"] > v["BPR"] > v["PopRec"], "sampled NDCG@10"),
    ),
    Claim(
        "b_concat_beats_sum", "B", "Concatenation beats summation for SASRec+",
        "rows 4-7 mean 0.708 vs 8-11 0.675 (ML-20M)",
        "paired t-test over the four modality sets (Table 3 rows 4-7 vs 8-11)", _B3,
        concat_beats_sum(_B3, "sasrecplus"),
    ),
    Claim(
        "b_all_modalities_best", "B", "All three modalities beat any single one for SASRec+",
        "0.706 vs 0.703 / 0.686 / 0.688 (ML-20M, Table 3)",
        "NDCG@10, mean over seeds (point estimates)", _B3,
        ordering(_B3, {f"row {r}": f"paper_b_ablation_sasrecplus_row{r}" for r in (4, 1, 2, 3)},
                 lambda v: v["row 4"] > max(v["row 1"], v["row 2"], v["row 3"]), "NDCG@10"),
    ),
    Claim(
        "b_attention_blocks", "B",
        "Users of one behaviour cluster attend alike: the heatmap is block-diagonal",
        "Fig 3 (visual)", "block contrast of the behaviour clusters against its distribution "
        "over 200 random relabellings (one-sided permutation test)", _B3,
        permutation_test(_B3, "paper_b_ablation_contrast"),
    ),
    Claim(
        "side_rare", "A+B",
        "Content helps on rare items: SASRec+ beats SASRec for test items seen < 5 times",
        "not measured by either paper",
        "95 % t-interval of the per-user NDCG@10 gain, paired over those users", _SIDE,
        gain_interval(_SIDE, "side_info_gain_rare", "side_info_rare_users", "users"),
    ),
    Claim(
        "side_sparse", "A+B",
        "Content helps where histories are short: SASRec+ beats SASRec on the sparsest share",
        "not measured by either paper",
        "95 % t-interval of the NDCG@10 gain at the smallest share of history, paired over "
        "training seeds", _SIDE,
        gain_interval(_SIDE, "side_info_gain_smallest", "side_info_n_seeds_smallest", "seeds"),
    ),
    Claim(
        "side_cold", "A+B",
        "Content makes cold items recommendable: SASRec+ ranks items held out of training "
        "above chance",
        "not measured by either paper",
        "95 % t-interval of the per-user NDCG@10 above a random ranking's, over the users "
        "whose test item is cold", _SIDE,
        gain_interval(_SIDE, "side_info_cold_with", "side_info_cold_users", "users"),
    ),
)  # fmt: skip


def claims_on(page: str) -> tuple[Claim, ...]:
    """The claims whose result ``page`` states."""
    return tuple(claim for claim in CLAIMS if claim.page == page)


def claim_values(page: str, values: Mapping[str, object]) -> dict[str, object]:
    """What ``page`` glues (with prefix ``claim``) to state its claims' results: for each claim
    judged on it, ``<name>_verdict``, ``<name>_ours`` and ``<name>_<number>`` for each number
    of its :class:`Judgement` (NaN where the runs are missing, so that every name a page cites
    exists under every profile).

    values: the page's own glued values by glued name (what
    :func:`mmrec_lib.report.notebook.glue_all` returns), judged as the scoreboard judges them.
    """
    glued = {page: values}
    out: dict[str, object] = {}
    for claim in claims_on(page):
        judgement = claim.judge(glued)
        out[f"{claim.name}_verdict"] = judgement.verdict
        out[f"{claim.name}_ours"] = judgement.ours
        out.update({f"{claim.name}_{key}": value for key, value in judgement.numbers.items()})
    return out


def scoreboard(glued: Glued) -> list[dict[str, str]]:
    """One row per claim: paper, claim, the paper's number, ours, test, verdict, page, anchor."""
    rows = []
    for claim in CLAIMS:
        judgement = claim.judge(glued)
        rows.append(
            {
                "paper": claim.paper,
                "claim": claim.text,
                "paper's number": claim.paper_number,
                "ours": judgement.ours,
                "test": claim.test,
                "verdict": judgement.verdict,
                "page": claim.page,
                "anchor": claim.anchor,
            }
        )
    return rows


def scoreboard_page(glued: Glued) -> str:
    """The scoreboard as a MyST page; each row links to the sentence of its page that states
    the result (the target ``(claim-<name>)=``)."""
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
        "runs it needs are missing or too few to test. The paper's numbers are as printed. "
        "Each verdict links to the sentence of the chapter that states the result.",
        "",
        ":::{container} mmrec-claims",  # compact type (book/_static/mmrec.css)
        "| paper | claim | verdict | paper's number | ours | test |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        verdict = f"**{{ref}}`{row['verdict']} <{row['anchor']}>`**"
        cells = [row[k] for k in ("paper's number", "ours", "test")]
        lines.append("| " + " | ".join([row["paper"], row["claim"], verdict, *cells]) + " |")
    lines.append(":::")
    return "\n".join(lines) + "\n"
