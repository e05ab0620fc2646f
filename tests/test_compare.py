"""Set comparison: MGEval overlap/KL, the classifier two-sample test, diversity and copying."""

from __future__ import annotations

import numpy as np
import pytest

from pianogan.evaluation import compare
from pianogan.roll import LOWEST_PITCH, N_PITCHES

MAJOR = (0, 2, 4, 5, 7, 9, 11)


def real_looking_rolls(n: int, seed: int = 0, width: int = 300) -> np.ndarray:
    """Rolls shaped like simple piano music: one major key per roll, a melody of 2-8
    column notes in octaves 4-5 over a triad (held 4-8 columns) every half bar."""
    rng = np.random.default_rng(seed)
    rolls = np.zeros((n, N_PITCHES, width), dtype=bool)
    for k in range(n):
        tonic = int(rng.integers(12))
        in_key = [p for p in range(36, 90) if (p - tonic) % 12 in MAJOR]
        melody = [p for p in in_key if 60 <= p < 84]
        bass = [p for p in in_key if 45 <= p < 57]
        column, last = 0, None
        while column < width:
            length = int(rng.integers(2, 9))
            pitch = int(rng.choice([p for p in melody if p != last]))
            rolls[k, pitch - LOWEST_PITCH, column : column + length] = True
            column, last = column + length + int(rng.integers(0, 2)), pitch
        for column in range(0, width, 8):
            root = in_key.index(int(rng.choice(bass)))
            length = int(rng.integers(4, 9))
            for step in (0, 2, 4):
                rolls[k, in_key[root + step] - LOWEST_PITCH, column : column + length] = True
    return rolls


def transposed(roll: np.ndarray, semitones: int) -> np.ndarray:
    out = np.zeros_like(roll)
    if semitones >= 0:
        out[semitones:] = roll[: N_PITCHES - semitones]
    else:
        out[:semitones] = roll[-semitones:]
    return out


def test_real_looking_rolls_look_real():
    rolls = real_looking_rolls(20)
    x = compare.classifier_features(rolls)
    column = dict(zip(compare.CLASSIFIER_FEATURES, x.T))
    assert (column["scale_consistency"] == 1.0).all()
    assert column["notes_at_least_an_eighth_share"].min() > 0.98  # only notes cut by the window end are short
    assert 0.02 < column["lit_share"].mean() < 0.06


# --- MGEval overlap and KL ----------------------------------------------------------------------


def test_overlap_of_a_sample_with_itself_is_one():
    values = np.random.default_rng(0).normal(size=300)
    assert compare.overlap_and_kl(values, values) == (1.0, 0.0)
    assert compare.overlap_and_kl(np.full(10, 3.0), np.full(7, 3.0)) == (1.0, 0.0)


def test_overlap_of_one_distribution_is_near_one_and_of_disjoint_ones_near_zero():
    rng = np.random.default_rng(1)
    same = compare.compare_metric(rng.normal(size=500), rng.normal(size=500))
    assert same["overlap"] > 0.9 and same["kl"] < 0.05
    apart = compare.compare_metric(rng.normal(size=500), rng.normal(50, 1, size=500))
    assert apart["overlap"] < 0.01 and apart["kl"] > 5
    assert apart["inter_distance"] == pytest.approx(50, abs=0.5)


def test_a_constant_metric_against_a_spread_one_stays_finite():
    spread = compare.compare_metric(np.full(50, 1.0), np.linspace(0, 10, 50))
    assert 0 < spread["overlap"] < 0.5 and np.isfinite(spread["kl"])


def test_undefined_values_are_left_out_and_counted():
    real = np.array([1.0, 2.0, np.nan, 3.0])
    generated = np.array([np.nan, np.nan, 2.0, 2.0])
    row = compare.compare_metric(real, generated)
    assert row["real_mean"] == 2.0 and row["generated_mean"] == 2.0
    assert row["real_undefined"] == 0.25 and row["generated_undefined"] == 0.5
    assert row["intra_real_distance"] == 4 / 3  # |1-2|, |1-3|, |2-3|
    assert row["inter_distance"] == 2 / 3  # |1-2|, |2-2|, |3-2| for each generated 2
    silent = compare.compare_metric(real, np.full(4, np.nan))
    assert np.isnan(silent["overlap"]) and np.isnan(silent["generated_mean"])


# --- classifier two-sample test --------------------------------------------------------------------


def test_c2st_cannot_tell_two_halves_of_one_set_apart():
    x = compare.classifier_features(real_looking_rolls(400, seed=3))
    result = compare.two_sample_test(x[:200], x[200:], seed=0)
    assert abs(result["accuracy"] - 0.5) <= 0.1
    assert result["rows_per_class"] == 200 and result["folds"] == 5


def test_c2st_tells_music_from_shuffled_columns():
    rolls = real_looking_rolls(200, seed=4)
    rng = np.random.default_rng(0)
    shuffled = np.stack([r[:, rng.permutation(r.shape[1])] for r in rolls])
    shuffled[:5] = False  # silent windows: NaN features the classifier must take
    result = compare.two_sample_test(compare.classifier_features(rolls), compare.classifier_features(shuffled), seed=0)
    assert result["accuracy"] >= 0.95


def test_c2st_balances_classes_and_respects_groups():
    rng = np.random.default_rng(5)
    real, generated = rng.normal(size=(90, 4)), rng.normal(size=(30, 4))
    result = compare.two_sample_test(real, generated, real_groups=np.arange(90) % 3, seed=0)
    assert result["rows_per_class"] == 30
    assert result["folds"] == 3 and result["real_groups"] == 3  # only three songs: three folds
    one_song = compare.two_sample_test(real, generated, real_groups=np.zeros(90, int), seed=0)
    assert np.isnan(one_song["accuracy"])
    again = compare.two_sample_test(real, generated, real_groups=np.arange(90) % 3, seed=0)
    assert again == result


def test_feature_groups_split_the_classifier_features():
    grouped = [feature for features in compare.FEATURE_GROUPS.values() for feature in features]
    assert sorted(grouped) == sorted(compare.CLASSIFIER_FEATURES)  # each feature once, none left out


def test_group_tests_find_the_group_that_differs():
    rng = np.random.default_rng(6)
    real = rng.normal(size=(200, len(compare.CLASSIFIER_FEATURES)))
    generated = rng.normal(size=real.shape)
    rhythm = [compare.CLASSIFIER_FEATURES.index(f) for f in compare.FEATURE_GROUPS["rhythm and metre"]]
    generated[:, rhythm] += 3.0
    generated[:10, 0] = np.nan  # missing values are fine for the classifier
    results = compare.group_two_sample_tests(real, generated, seed=0)
    assert list(results) == list(compare.FEATURE_GROUPS)
    assert results["rhythm and metre"]["accuracy"] > 0.95
    assert all(abs(r["accuracy"] - 0.5) < 0.15 for name, r in results.items() if name != "rhythm and metre")


# --- precision, recall, density and coverage -----------------------------------------------------


def low_rank_gaussian(rng: np.random.Generator, n: int, centre: np.ndarray | float = 0.0) -> np.ndarray:
    """40 correlated features driven by 8 latent normals (as metric features are correlated)."""
    mixing = np.random.default_rng(100).normal(size=(8, 40))
    return (rng.normal(size=(n, 8)) + centre) @ mixing + 0.05 * rng.normal(size=(n, 40))


def test_prdc_of_one_distribution_is_near_one():
    rng = np.random.default_rng(0)
    result = compare.precision_recall_density_coverage(low_rank_gaussian(rng, 300), low_rank_gaussian(rng, 300))
    assert min(result["precision"], result["recall"], result["coverage"]) > 0.85
    assert 0.8 < result["density"] < 1.25
    assert (result["k"], result["components"], result["real_rows"]) == (5, 20, 300)


def test_prdc_of_disjoint_distributions_is_zero():
    rng = np.random.default_rng(1)
    far = np.zeros(8)
    far[0] = 30.0
    result = compare.precision_recall_density_coverage(low_rank_gaussian(rng, 300), low_rank_gaussian(rng, 300, far))
    assert [result[key] for key in ("precision", "recall", "density", "coverage")] == [0.0, 0.0, 0.0, 0.0]


def test_prdc_of_half_the_modes_halves_recall_and_coverage():
    rng = np.random.default_rng(2)
    mode = np.zeros(8)
    mode[0] = 8.0
    real = np.concatenate([low_rank_gaussian(rng, 150, mode), low_rank_gaussian(rng, 150, -mode)])
    result = compare.precision_recall_density_coverage(real, low_rank_gaussian(rng, 300, mode))
    assert result["precision"] > 0.85 and 0.75 < result["density"] < 1.3  # what it makes is real
    assert 0.35 < result["recall"] < 0.65 and 0.35 < result["coverage"] < 0.65  # but only half of it


def test_prdc_compares_sets_of_equal_size_however_many_rows_either_has():
    """Coverage grows with the generated rows (each real ball is likelier to catch one):
    measured at once, 800 rows of a narrow generator cover 0.985 of 200 real balls where 200
    of them cover 0.91. Drawn at the real set's size, four draws read as one does."""
    rng = np.random.default_rng(0)
    mixing = np.random.default_rng(100).normal(size=(8, 40))
    real = low_rank_gaussian(rng, 200)
    narrow = (rng.normal(size=(800, 8)) * 0.5) @ mixing + 0.05 * rng.normal(size=(800, 40))
    one, four = (compare.precision_recall_density_coverage(real, generated) for generated in (narrow[:200], narrow))
    assert (one["draws"], four["draws"], four["rows_per_draw"], four["generated_rows"]) == (1, 4, 200, 800)
    assert abs(four["coverage"] - one["coverage"]) < 0.03 and abs(four["recall"] - one["recall"]) < 0.05
    larger_real = compare.precision_recall_density_coverage(narrow, real)  # the real set drawn at the generated one's size
    assert (larger_real["draws"], larger_real["rows_per_draw"], larger_real["real_rows"]) == (4, 200, 800)
    assert compare.precision_recall_density_coverage(real, narrow, seed=1) != four  # the draws follow the seed


def test_prdc_takes_nans_constant_columns_and_tiny_sets():
    rng = np.random.default_rng(3)
    real, generated = rng.normal(size=(60, 6)), rng.normal(size=(60, 6))
    real[:, 2] = 1.0  # constant: no division by zero
    real[:, 3] = np.nan  # undefined everywhere in the real set
    generated[::3, 0] = np.nan  # replaced by the real column's median
    projected_real, projected_generated = compare.standardised_projection(real, generated)
    assert projected_real.shape == (60, 6) and np.isfinite(projected_generated).all()
    result = compare.precision_recall_density_coverage(real, generated)
    assert all(0.0 <= result[key] for key in ("precision", "recall", "density", "coverage"))
    tiny = compare.precision_recall_density_coverage(real[:5], generated)
    assert np.isnan(tiny["precision"]) and tiny["real_rows"] == 5


# --- diversity and copying --------------------------------------------------------------------------


def test_iou_and_diversity_on_hand_made_rolls():
    a = np.zeros((N_PITCHES, 8), bool)
    b, c = a.copy(), a.copy()
    a[10, 0:4] = True  # 4 pixels
    b[10, 2:6] = True  # shares 2 with a
    c[50, 0:8] = True  # shares nothing
    iou = compare.iou_matrix(np.stack([a, b, c]), np.stack([a, b, c]))
    np.testing.assert_array_equal(iou, [[1, 2 / 6, 0], [2 / 6, 1, 0], [0, 0, 1]])
    assert compare.diversity(np.stack([a, b, c])) == pytest.approx(1 - (2 / 6) / 3)
    assert compare.diversity(np.stack([a, a, a])) == 0.0
    assert np.isnan(compare.diversity(a[None]))


def test_copying_finds_a_transposed_copy_among_training_windows():
    training = real_looking_rolls(300, seed=6)
    pieces = real_looking_rolls(20, seed=7)
    pieces[7] = transposed(training[123], 5)
    result = compare.nearest_training_iou(pieces, training, sample=300)
    assert result["nearest_index"][7] == 123 and result["nearest_shift"][7] == -5
    assert result["nearest_iou"][7] == 1.0 and result["max"] == 1.0
    assert result["near_copies"] == 1 and result["near_copy_share"] == 1 / 20
    assert (np.delete(result["nearest_iou"], 7) < 0.8).all()
    assert result["compared_exactly"] == 300


def test_the_bound_finds_a_copy_outside_the_sample():
    rng = np.random.default_rng(9)
    training = rng.random((400, N_PITCHES, 300)) < rng.uniform(0.01, 0.05, (400, 1, 1))
    pieces = real_looking_rolls(10, seed=10)
    training[321] = transposed(pieces[4], -7)
    result = compare.nearest_training_iou(pieces, training, sample=0)
    assert result["compared_exactly"] < 10  # the rhythm profiles ruled out nearly every window
    assert result["near_copies_exact"] and result["near_copies"] == 1
    assert result["nearest_index"][4] == 321 and result["nearest_shift"][4] == -7 and result["nearest_iou"][4] == 1.0


def test_a_lone_note_is_not_a_near_copy():
    training = real_looking_rolls(5, seed=13)
    lone = np.zeros((2, N_PITCHES, 300), dtype=bool)
    lone[:, 40, 296:] = True  # one note, as at the end of a song
    training[2] = transposed(lone[0], 3)
    result = compare.nearest_training_iou(lone, training, min_notes=8)
    assert result["max"] == 1.0 and result["near_copies"] == 0
    assert compare.nearest_training_iou(lone, training, min_notes=1)["near_copies"] == 2


def test_too_many_suspects_are_capped_and_flagged():
    training = real_looking_rolls(60, seed=11)  # one texture: the bound cannot rule them out
    pieces = real_looking_rolls(3, seed=12)
    result = compare.nearest_training_iou(pieces, training, sample=0, max_suspects=5)
    assert result["compared_exactly"] == 5 and not result["near_copies_exact"]


def _brute_force_nearest(pieces: np.ndarray, training: np.ndarray, max_shift: int) -> np.ndarray:
    best = np.zeros(len(pieces))
    for i, piece in enumerate(pieces):
        for window in training:
            for shift in range(-max_shift, max_shift + 1):
                inter = np.count_nonzero(transposed(piece, shift) & window)
                union = piece.sum() + window.sum() - inter
                best[i] = max(best[i], inter / union if union else 0.0)
    return best


def test_copying_is_exact_and_the_bound_holds():
    rng = np.random.default_rng(8)
    pieces = rng.random((5, N_PITCHES, 24)) < 0.1
    training = rng.random((12, N_PITCHES, 24)) < 0.1
    training[4] = transposed(pieces[2], -3) | (rng.random((N_PITCHES, 24)) < 0.01)
    result = compare.nearest_training_iou(pieces, training, max_shift=4, sample=12)
    np.testing.assert_allclose(result["nearest_iou"], _brute_force_nearest(pieces, training, 4), rtol=1e-6)
    bound = compare._iou_upper_bound(compare._thermometer(pieces, 2), compare._thermometer(training, 2))
    for i, piece in enumerate(pieces):
        exact = [_brute_force_nearest(piece[None], training[j : j + 1], 4)[0] for j in range(len(training))]
        assert (bound[i] >= np.array(exact) - 1e-6).all()
