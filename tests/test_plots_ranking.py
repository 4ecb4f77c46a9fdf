"""The sampled-vs-full protocol figure."""

import matplotlib
import numpy as np
import pytest

from mmrec_lib.report.plots.ranking import protocol_comparison_figure

matplotlib.use("Agg")


def _result(sampled, full):
    return {"sampled/NDCG@10": np.array(sampled), "full/NDCG@10": np.array(full)}


def test_each_panel_sorts_models_by_its_own_protocol():
    results = {"pop": _result([0.2, 0.4], [0.30, 0.30]), "sas": _result([0.5, 0.7], [0.1, 0.1])}
    figure = protocol_comparison_figure(results)
    sampled, full = figure.axes
    assert [t.get_text() for t in sampled.get_yticklabels()] == ["pop", "sas"]
    assert [t.get_text() for t in full.get_yticklabels()] == ["sas", "pop"]
    widths = [patch.get_width() for patch in sampled.patches]
    assert widths == pytest.approx([0.3, 0.6])


def test_no_results_is_an_error():
    with pytest.raises(ValueError, match="no results"):
        protocol_comparison_figure({})
