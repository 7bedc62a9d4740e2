"""Statistics against values worked out by hand for small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from allgui.core.validation.stats import (
    bootstrap_auc,
    format_interval,
    format_value,
    mcnemar_test,
    paired_t_test,
    summarize,
)

# Student's t, 97.5th percentile, 2 degrees of freedom (any printed table).
T_975_DF2 = 4.302652729911275


def test_summary_of_three_runs_matches_hand_computation():
    s = summarize([0.8, 0.9, 1.0])
    # mean 0.9; deviations -0.1, 0, 0.1; sd = sqrt(0.02 / 2) = 0.1
    assert s.n == 3
    assert s.mean == pytest.approx(0.9)
    assert s.sd == pytest.approx(0.1)
    assert s.cv == pytest.approx(0.1 / 0.9)
    half = T_975_DF2 * 0.1 / math.sqrt(3)
    assert s.ci_low == pytest.approx(0.9 - half)
    assert s.ci_high == pytest.approx(0.9 + half)
    assert "few runs" in s.note


def test_summary_of_one_run_gives_no_spread_and_no_nan():
    s = summarize([0.75])
    assert (s.n, s.mean, s.sd, s.cv, s.ci_low, s.ci_high) == (1, 0.75, None, None, None, None)
    assert "one run" in s.note
    assert format_value(s.sd) == "n/a"
    assert format_interval(s.ci_low, s.ci_high) == "n/a"


def test_summary_drops_missing_values_and_says_so():
    s = summarize([0.5, float("nan"), 0.7])
    assert s.n == 2
    assert s.mean == pytest.approx(0.6)
    assert "left out" in s.note
    assert summarize([]).mean is None


def test_paired_t_matches_closed_form_for_two_degrees_of_freedom():
    tuned = [0.90, 0.92, 0.94]
    base = [0.88, 0.91, 0.90]
    r = paired_t_test(tuned, base)
    # differences 0.02, 0.01, 0.04: mean 0.07/3, sd sqrt(4.6667e-4 / 2); t = sqrt(7)
    assert r.n == 3 and r.df == 2
    assert r.mean_difference == pytest.approx(0.07 / 3)
    assert r.sd_difference == pytest.approx(math.sqrt((0.07 / 3) ** 2 * 3 / 7))
    assert r.t == pytest.approx(math.sqrt(7))
    # With 2 df, P(|T| > t) = 1 - t / sqrt(2 + t^2) = 1 - sqrt(7) / 3.
    assert r.p_value == pytest.approx(1 - math.sqrt(7) / 3)
    half = T_975_DF2 * r.sd_difference / math.sqrt(3)
    assert r.ci_low == pytest.approx(0.07 / 3 - half)


def test_paired_t_with_too_few_or_identical_pairs_is_stated():
    one = paired_t_test([0.9], [0.8])
    assert one.p_value is None and one.n == 1 and "fewer than two" in one.note
    same = paired_t_test([0.9, 0.8], [0.8, 0.7])
    assert same.t is None and same.p_value is None and "undefined" in same.note
    with pytest.raises(ValueError):
        paired_t_test([0.9, 0.8], [0.8])


def test_mcnemar_exact_for_few_discordant_images():
    # 1 image only A gets right, 6 only B: two-sided exact p = 2 * (1 + 7) / 2^7
    a = [True] * 10 + [True] + [False] * 6
    b = [True] * 10 + [False] + [True] * 6
    r = mcnemar_test(a, b)
    assert (r.only_a, r.only_b, r.images) == (1, 6, 17)
    assert r.method == "exact binomial"
    assert r.p_value == pytest.approx(16 / 128)


def test_mcnemar_chi_square_for_many_discordant_images():
    a = [True] * 10 + [False] * 30 + [True] * 50
    b = [False] * 10 + [True] * 30 + [True] * 50
    r = mcnemar_test(a, b)
    assert (r.only_a, r.only_b) == (10, 30)
    assert r.statistic == pytest.approx((20 - 1) ** 2 / 40)
    # chi-square with 1 df: P(X > x) = erfc(sqrt(x / 2))
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))


def test_mcnemar_identical_models():
    r = mcnemar_test([True, False, True], [True, False, True])
    assert r.p_value == 1.0 and r.only_a == r.only_b == 0


def test_bootstrap_auc_agrees_with_sklearn_and_is_repeatable():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.random(120) < 0.3
    s = rng.random(120) + 0.4 * y
    r = bootstrap_auc(y, s, resamples=500, seed=1)
    assert r.estimate == pytest.approx(roc_auc_score(y, s))
    assert r.low < r.estimate < r.high
    assert bootstrap_auc(y, s, resamples=500, seed=1) == r
    perfect = bootstrap_auc([True, True, False, False], [0.9, 0.8, 0.2, 0.1], resamples=50)
    assert (perfect.low, perfect.high) == (1.0, 1.0)
    assert "unreliable" in perfect.note
    assert bootstrap_auc([True, True], [0.1, 0.2]).low is None
