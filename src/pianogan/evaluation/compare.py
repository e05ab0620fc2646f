"""Comparing a set of generated rolls with real ones: distributions, a classifier, copying.

Four questions, each answered beside the same figure for two real sets (train split vs
test split), because a number means little without the floor real data itself reaches:

- Do the per-piece metrics have the real distributions? ``compare_metric``: MGEval's
  overlapping area and KL divergence of distance distributions.
- Can a classifier tell the sets apart, and by what? ``two_sample_test``: a classifier
  two-sample test (C2ST) on metric features, 0.5 meaning indistinguishable;
  ``group_two_sample_tests`` repeats it on each group of ``FEATURE_GROUPS`` alone.
- Do the generated windows lie where real ones do, and cover them?
  ``precision_recall_density_coverage``: k-nearest-neighbour fidelity and diversity on
  the same features.
- Is the generator diverse, and does it copy its training data? ``diversity`` and
  ``nearest_training_iou``.
"""

from __future__ import annotations

import warnings

import numpy as np

from pianogan.errors import ShapeError
from pianogan.evaluation import metrics
from pianogan.roll import PITCH_CLASS_NAMES

DISTANCE_PAIRS = 2000  # distances drawn per distribution for the density estimates
GRID_POINTS = 512
KL_FLOOR = 1e-12  # probability floor per grid cell: caps KL near log(1e12) = 27.6 nats


# --- metric distributions (MGEval) -------------------------------------------------------------


def _pairs(n_a: int, n_b: int, same: bool, max_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j): all of them when at most ``max_pairs``, else a uniform sample.

    ``same`` means one set: pairs i < j when exhaustive, i != j when sampled.
    """
    if same:
        if n_a * (n_a - 1) // 2 <= max_pairs:
            return np.triu_indices(n_a, 1)
        i = rng.integers(0, n_a, max_pairs)
        j = rng.integers(0, n_a - 1, max_pairs)
        return i, j + (j >= i)
    if n_a * n_b <= max_pairs:
        i, j = np.meshgrid(np.arange(n_a), np.arange(n_b), indexing="ij")
        return i.ravel(), j.ravel()
    return rng.integers(0, n_a, max_pairs), rng.integers(0, n_b, max_pairs)


def _density(samples: np.ndarray, grid: np.ndarray, min_bandwidth: float) -> np.ndarray:
    """Gaussian KDE (Scott's rule) of ``samples`` on ``grid``, bandwidth at least ``min_bandwidth``.

    A constant sample (zero spread, where ``gaussian_kde`` fails on a singular covariance)
    becomes a Gaussian of width ``min_bandwidth`` at its value.
    """
    from scipy.stats import gaussian_kde

    if len(samples) < 2 or np.ptp(samples) == 0:
        return np.exp(-0.5 * ((grid - samples[0]) / min_bandwidth) ** 2)
    kde = gaussian_kde(samples)
    bandwidth = float(np.sqrt(kde.covariance[0, 0]))
    if bandwidth < min_bandwidth:
        kde.set_bandwidth(kde.factor * min_bandwidth / bandwidth)
    return kde(grid)


def overlap_and_kl(p_samples: np.ndarray, q_samples: np.ndarray, grid_points: int = GRID_POINTS) -> tuple[float, float]:
    """Overlapping area and KL(P || Q) of two 1-D samples' kernel density estimates.

    Both densities are evaluated on one grid that covers both samples plus four of the
    wider bandwidth on either side, and normalised to sum to 1 there: the overlap
    ``sum(min(p, q))`` is then 1 for identical samples and 0 for far-apart ones, and KL is
    ``sum(p log(p / q))`` with ``q`` floored at ``KL_FLOOR`` per cell, so disjoint sets
    give a large finite number instead of infinity. (MGEval evaluated the two densities
    on different grids for KL; one shared grid is what the definition needs.) The
    bandwidth is at least 1% of the pooled range, so a constant sample is a narrow peak.
    """
    p_samples = np.asarray(p_samples, dtype=float)
    q_samples = np.asarray(q_samples, dtype=float)
    pooled = np.concatenate([p_samples, q_samples])
    spread = float(np.ptp(pooled))
    if spread == 0:
        return 1.0, 0.0
    min_bandwidth = 0.01 * spread
    widest = max(min_bandwidth, *(float(np.std(s)) * len(s) ** -0.2 for s in (p_samples, q_samples)))
    grid = np.linspace(pooled.min() - 4 * widest, pooled.max() + 4 * widest, grid_points)
    p = _density(p_samples, grid, min_bandwidth)
    q = _density(q_samples, grid, min_bandwidth)
    p, q = p / p.sum(), q / q.sum()
    overlap = float(np.minimum(p, q).sum())
    kl = float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / np.maximum(q, KL_FLOOR)), 0.0)))
    return min(overlap, 1.0), max(kl, 0.0)


def compare_metric(real: np.ndarray, generated: np.ndarray, seed: int = 0, max_pairs: int = DISTANCE_PAIRS) -> dict:
    """MGEval's comparison of one scalar metric between a real and a generated set.

    Yang & Lerch, "On the evaluation of generative models in music" (Neural Computing and
    Applications, 2018): take the intra-set distances within the real set
    ``|r_i - r_j|`` and the inter-set distances ``|r_i - g_j|``, estimate both
    distributions with Gaussian kernels, and report their overlapping area (1 = the
    generated values sit among the real ones as the real ones sit among themselves) and
    KL(intra-real || inter) (0 = the same). Pairs are sampled (``max_pairs`` per
    distribution, seeded) rather than enumerated: a million distances per metric would
    only slow the kernel estimate. NaN values (the metric is undefined for that piece,
    e.g. mean note length of a silent roll) are left out; their shares are reported.
    """
    rng = np.random.default_rng(seed)
    real = np.asarray(real, dtype=float)
    generated = np.asarray(generated, dtype=float)
    r, g = real[~np.isnan(real)], generated[~np.isnan(generated)]
    result = {
        "real_mean": float(r.mean()) if len(r) else float("nan"),
        "real_std": float(r.std()) if len(r) else float("nan"),
        "generated_mean": float(g.mean()) if len(g) else float("nan"),
        "generated_std": float(g.std()) if len(g) else float("nan"),
        "real_undefined": float(np.isnan(real).mean()) if len(real) else float("nan"),
        "generated_undefined": float(np.isnan(generated).mean()) if len(generated) else float("nan"),
        "intra_real_distance": float("nan"),
        "intra_generated_distance": float("nan"),
        "inter_distance": float("nan"),
        "overlap": float("nan"),
        "kl": float("nan"),
    }
    if len(r) < 2 or len(g) < 1:
        return result
    i, j = _pairs(len(r), len(r), True, max_pairs, rng)
    intra = np.abs(r[i] - r[j])
    i, j = _pairs(len(r), len(g), False, max_pairs, rng)
    inter = np.abs(r[i] - g[j])
    if len(g) >= 2:
        i, j = _pairs(len(g), len(g), True, max_pairs, rng)
        result["intra_generated_distance"] = float(np.abs(g[i] - g[j]).mean())
    result["intra_real_distance"] = float(intra.mean())
    result["inter_distance"] = float(inter.mean())
    result["overlap"], result["kl"] = overlap_and_kl(intra, inter)
    return result


def compare_features(real: np.ndarray, generated: np.ndarray, names=metrics.FEATURE_NAMES, seed: int = 0) -> dict[str, dict]:
    """``compare_metric`` for each column of two feature arrays ``(N, F)``, by name."""
    return {name: compare_metric(real[:, k], generated[:, k], seed=seed + k) for k, name in enumerate(names)}


# --- classifier two-sample test ------------------------------------------------------------------


PITCH_CLASS_FEATURES = tuple(f"pitch_class_{name}" for name in PITCH_CLASS_NAMES)
NOTE_LENGTH_FEATURES = tuple(f"note_length_{label}" for label in metrics.LENGTH_BIN_LABELS)
CLASSIFIER_FEATURES = metrics.FEATURE_NAMES + PITCH_CLASS_FEATURES + NOTE_LENGTH_FEATURES + ("lowest_pitch", "highest_pitch")

# Every classifier feature in exactly one group, so that the classifier's accuracy on each
# group alone says which aspect of the music gives generated windows away.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "density and length": ("note_count", "lit_share", "onsets_per_column", "mean_note_length", "notes_at_least_an_eighth_share", *NOTE_LENGTH_FEATURES),
    "polyphony": ("polyphony", "polyphony_rate", "polyphonicity"),
    "pitch and register": ("mean_pitch", "pitch_range", "largest_pitch_gap", "n_pitches_used", "lowest_pitch", "highest_pitch", "outside_piano_share"),
    "tonality and harmony": (
        "n_pitch_classes_used",
        "pitch_class_entropy",
        "scale_consistency",
        "scale_consistency_by_duration",
        "out_of_key_share",
        "bass_on_chord_root",
        *PITCH_CLASS_FEATURES,
    ),
    "rhythm and metre": (
        "empty_beat_rate",
        "mean_inter_onset_interval",
        "beat_phase_consistency",
        "downbeat_clarity",
        "onset_periodicity_1_bar",
        "onset_periodicity_2_bars",
        "bass_on_beat",
    ),
    "voice leading": ("mean_pitch_interval", "top_voice_stepwise_share", "mean_top_voice_interval"),
    "repetition": tuple(f"{kind}_repetition_{lag}" for kind in ("pitch_class", "rhythm") for lag in ("1_bar", "2_bars", "4_bars")),
    "drones and stray notes": ("drone", "isolated_short_notes"),
}


def classifier_features(rolls: np.ndarray, progress: bool = False) -> np.ndarray:
    """Features for the two-sample test, columns named by ``CLASSIFIER_FEATURES``: the
    scalar metrics, the 12 pitch-class shares, the note-length histogram and the lowest
    and highest pitch, shape ``(N, len(CLASSIFIER_FEATURES))``."""
    rolls = np.asarray(rolls, dtype=bool)
    if not len(rolls):
        return np.empty((0, len(CLASSIFIER_FEATURES)))
    columns = [metrics.features(rolls, progress=progress)]
    for metric in (metrics.pitch_class_histogram, metrics.note_length_histogram, metrics.lowest_pitch, metrics.highest_pitch):
        batches = (rolls[start : start + 256] for start in range(0, len(rolls), 256))
        columns.append(np.concatenate([np.reshape(metric(batch), (len(batch), -1)) for batch in batches]))
    return np.concatenate(columns, axis=1)


def two_sample_test(
    real: np.ndarray,
    generated: np.ndarray,
    real_groups: np.ndarray | None = None,
    generated_groups: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> dict:
    """Classifier two-sample test: how well gradient boosting tells the two sets apart.

    Lopez-Paz & Oquab, "Revisiting classifier two-sample tests" (ICLR 2017): if a
    classifier cannot beat chance at telling generated from real samples, the two
    distributions agree on everything the classifier can see. Here it sees the feature
    rows (``classifier_features``); ``HistGradientBoostingClassifier`` handles NaN features
    natively. The larger set is subsampled to the smaller one's size, so 0.5 is chance.
    Accuracy is on held-out folds of ``StratifiedGroupKFold``: windows sharing a group
    (the same song) are never split between training and testing, or the classifier could
    recognise songs instead of judging music. Without groups each row is its own group.

    Returns accuracy (pooled over the held-out folds), its standard deviation across
    folds, the rows per class and the number of folds: ``folds``, or fewer when a set has
    fewer groups (NaN accuracy below two).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedGroupKFold
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    real, generated = np.asarray(real, dtype=float), np.asarray(generated, dtype=float)
    real_groups = np.arange(len(real)) if real_groups is None else np.asarray(real_groups)
    generated_groups = np.arange(len(generated)) if generated_groups is None else np.asarray(generated_groups)
    n = min(len(real), len(generated))
    keep_real = np.sort(rng.choice(len(real), n, replace=False))
    keep_generated = np.sort(rng.choice(len(generated), n, replace=False))
    x = np.concatenate([real[keep_real], generated[keep_generated]])
    y = np.repeat([0, 1], n)
    labels = [f"r{g}" for g in real_groups[keep_real]] + [f"g{g}" for g in generated_groups[keep_generated]]
    groups = np.unique(labels, return_inverse=True)[1]
    folds = min(folds, len(np.unique(real_groups[keep_real])), len(np.unique(generated_groups[keep_generated])))
    if folds < 2:
        return {
            "accuracy": float("nan"),
            "fold_std": float("nan"),
            "rows_per_class": int(n),
            "folds": folds,
            "real_groups": len(np.unique(real_groups[keep_real])),
        }
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.empty(len(y), dtype=int)
    fold_accuracy = []
    # A few thousand rows are too few for OpenMP threads to pay: on a busy two-core machine
    # they spin against other work and make each fit several times slower.
    with threadpool_limits(1, user_api="openmp"):
        for train, test in splitter.split(x, y, groups):
            # scikit-learn's default of 20 rows per leaf forbids every split below 40 rows
            leaf = min(20, max(2, len(train) // 20))
            model = HistGradientBoostingClassifier(min_samples_leaf=leaf, random_state=seed)
            model.fit(x[train], y[train])
            predicted[test] = model.predict(x[test])
            fold_accuracy.append(float(np.mean(predicted[test] == y[test])))
    return {
        "accuracy": float(np.mean(predicted == y)),
        "fold_std": float(np.std(fold_accuracy)),
        "rows_per_class": int(n),
        "folds": folds,
        "real_groups": len(np.unique(real_groups[keep_real])),
    }


def group_two_sample_tests(
    real: np.ndarray,
    generated: np.ndarray,
    real_groups: np.ndarray | None = None,
    generated_groups: np.ndarray | None = None,
    seed: int = 0,
    groups: dict[str, tuple[str, ...]] = FEATURE_GROUPS,
) -> dict[str, dict]:
    """``two_sample_test`` on each feature group alone (columns named by ``CLASSIFIER_FEATURES``).

    A group on which the classifier stays near 0.5 is matched; one that reaches the full
    test's accuracy alone carries it.
    """
    results = {}
    for name, features in groups.items():
        columns = [CLASSIFIER_FEATURES.index(feature) for feature in features]
        results[name] = two_sample_test(real[:, columns], generated[:, columns], real_groups, generated_groups, seed=seed)
    return results


# --- precision, recall, density and coverage ---------------------------------------------------


PRDC_NEIGHBOURS = 5
PRDC_COMPONENTS = 20


def standardised_projection(real: np.ndarray, generated: np.ndarray, components: int = PRDC_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """Both feature sets in the real set's coordinates: NaN replaced by the real column's
    median (0 when the real column has none), standardised by the real mean and standard
    deviation (1 where constant), projected on the real set's first ``components``
    principal components.

    Distances then weigh every direction the real data varies in alike, counts and shares
    on one scale, and correlated features (the 12 pitch-class shares, the note-length
    bins) do not outvote the rest. The components fit the real rows, which spread along
    them a little more than other rows do: where many directions spread alike (not so
    for our correlated features), precision reads a little high and recall low.
    """
    real, generated = np.asarray(real, dtype=float), np.asarray(generated, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
        median = np.nanmedian(real, axis=0) if len(real) else np.zeros(real.shape[1])
    median = np.where(np.isnan(median), 0.0, median)
    real, generated = (np.where(np.isnan(x), median, x) for x in (real, generated))
    mean, std = real.mean(axis=0), real.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    real, generated = (real - mean) / std, (generated - mean) / std
    basis = np.linalg.svd(real, full_matrices=False)[2][:components].T
    return real @ basis, generated @ basis


def _kth_neighbour_distance(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point of the same set."""
    from scipy.spatial.distance import cdist

    return np.partition(cdist(points, points), k, axis=1)[:, k]  # column 0 is the point itself


def precision_recall_density_coverage(
    real_features: np.ndarray, generated_features: np.ndarray, k: int = PRDC_NEIGHBOURS, components: int = PRDC_COMPONENTS, seed: int = 0
) -> dict:
    """k-NN precision and recall, density and coverage of generated against real feature rows.

    Each real row's neighbourhood is the ball reaching its k-th nearest real neighbour; the
    real manifold is the union of those balls, the generated one likewise.

    - precision: share of generated rows inside the real manifold (fidelity), and recall:
      share of real rows inside the generated manifold (diversity): Kynkaanniemi et al.,
      "Improved precision and recall metric for assessing generative models", NeurIPS 2019.
    - density: real balls containing a generated row, per generated row, divided by k (1
      when generated rows sit as densely among real ones as real rows do, above 1 when
      they crowd real modes), and coverage: share of real balls containing a generated
      row: Naeem et al., "Reliable fidelity and diversity metrics for generative models",
      ICML 2020. Unlike precision and recall they resist outliers.

    Both papers compare sets of equal size, and so does this: the larger set is cut into
    disjoint draws (seeded) of the smaller one's size, each draw is measured against the
    whole smaller set, and the figures are averaged over the draws. Recall and coverage
    depend on the sizes: on POP909's 479 validation windows, a generator's recall read
    0.51 with 479 of its pieces, 0.44 with 1,000 and 0.37 with 2,000, and its coverage
    0.54, 0.66 and 0.75, so sets of unequal size cannot be set beside a floor measured at
    equal ones.

    Rows are the classifier features, mapped by ``standardised_projection``; balls are
    closed (distance <= radius), as Kynkaanniemi et al. define them. NaN figures when a
    set has no more than k rows.
    """
    result = {"precision": float("nan"), "recall": float("nan"), "density": float("nan"), "coverage": float("nan")}
    result |= {"k": k, "components": components, "real_rows": len(real_features), "generated_rows": len(generated_features)}
    size = min(len(real_features), len(generated_features))
    if size <= k:
        return result
    rng = np.random.default_rng(seed)
    real_draws, generated_draws = (_disjoint_draws(len(rows), size, rng) for rows in (real_features, generated_features))
    figures = [_prdc(real_features[r], generated_features[g], k, components) for r in real_draws for g in generated_draws]
    return result | {name: float(np.mean([draw[name] for draw in figures])) for name in figures[0]} | {"rows_per_draw": size, "draws": len(figures)}


def _disjoint_draws(rows: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """As many disjoint draws of ``size`` of ``rows`` row indices as fit, each sorted."""
    order = rng.permutation(rows)
    return [np.sort(order[start : start + size]) for start in range(0, rows - size + 1, size)]


def _prdc(real_features: np.ndarray, generated_features: np.ndarray, k: int, components: int) -> dict[str, float]:
    """Precision, recall, density and coverage of one generated set against one real set."""
    from scipy.spatial.distance import cdist

    real, generated = standardised_projection(real_features, generated_features, components)
    real_radius = _kth_neighbour_distance(real, k)
    generated_radius = _kth_neighbour_distance(generated, k)
    distance = cdist(real, generated)  # (real, generated)
    inside_real = distance <= real_radius[:, None]
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((distance <= generated_radius[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum() / (k * len(generated))),
        "coverage": float(inside_real.any(axis=1).mean()),
    }


# --- diversity and copying -----------------------------------------------------------------------


def _flat(rolls: np.ndarray) -> np.ndarray:
    return np.asarray(rolls, dtype=bool).reshape(len(rolls), -1).astype(np.float32)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of lit pixels between every roll of ``a`` and every roll of ``b``, shape (len(a), len(b)).

    One float32 matrix product gives all intersections (counts stay exact in float32 up
    to 2**24 pixels); two silent rolls count as identical (IoU 1).
    """
    fa, fb = _flat(a), _flat(b)
    inter = (fa @ fb.T).astype(np.float64)
    union = fa.sum(axis=1, dtype=np.float64)[:, None] + fb.sum(axis=1, dtype=np.float64)[None, :] - inter
    return np.divide(inter, union, out=np.ones_like(inter), where=union > 0)


def diversity(rolls: np.ndarray, max_pieces: int = 500, seed: int = 0) -> float:
    """Mean pairwise distance ``1 - IoU`` of lit pixels among the rolls (no transposition).

    0 means every piece is the same (mode collapse); two random real windows are around
    0.95 apart. More than ``max_pieces`` rolls are subsampled (seeded). NaN for fewer than
    two rolls.
    """
    rolls = np.asarray(rolls, dtype=bool)
    if len(rolls) < 2:
        return float("nan")
    if len(rolls) > max_pieces:
        rolls = rolls[np.sort(np.random.default_rng(seed).choice(len(rolls), max_pieces, replace=False))]
    iou = iou_matrix(rolls, rolls)
    upper = np.triu_indices(len(rolls), 1)
    return float(1.0 - iou[upper].mean())


def _thermometer(rolls: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-count profile coded so that a dot product is ``sum_t min(count_a, count_b)``.

    Code level ``k`` of column ``t`` is 1 when at least ``k`` pitches sound there; the
    product of two codes counts, per column, the levels both reach: the smaller count.
    Counts above ``levels`` return as an excess per roll (see ``_iou_upper_bound``).
    """
    counts = np.count_nonzero(rolls, axis=1)
    code = (counts[:, :, None] >= np.arange(1, levels + 1)).reshape(len(rolls), -1).astype(np.float32)
    excess = np.clip(counts - levels, 0, None).sum(axis=1).astype(np.float32)
    return code, excess, counts.sum(axis=1).astype(np.float32)


def _iou_upper_bound(piece_code, training_code) -> np.ndarray:
    """Upper bound on IoU under any transposition, from column-count profiles alone.

    Transposing moves notes between rows, never between columns, so the intersection is
    at most ``sum_t min(count_a(t), count_b(t))`` (the code product, plus at most the smaller
    excess above the coded levels), and IoU = I / (|a| + |b| - I) grows with I.
    """
    code_a, excess_a, size_a = piece_code
    code_b, excess_b, size_b = training_code
    inter = code_a @ code_b.T + np.minimum(excess_a[:, None], excess_b[None, :])
    union = size_a[:, None] + size_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _pitch_spectra(rolls: np.ndarray, rows: int) -> np.ndarray:
    """Real FFT of each column along the pitch axis, zero-padded to ``rows``; shape (rows // 2 + 1, N, T)."""
    from scipy.fft import rfft

    padded = np.zeros((len(rolls), rows, rolls.shape[2]), dtype=np.float32)
    padded[:, : rolls.shape[1]] = rolls
    return np.ascontiguousarray(rfft(padded, axis=1).transpose(1, 0, 2))


def _shifted_intersections(piece_spectra: np.ndarray, window_spectra: np.ndarray, max_shift: int) -> np.ndarray:
    """Lit pixels shared by each piece transposed up by s and each window, s = -max_shift..max_shift.

    ``piece_spectra`` are conjugated ``_pitch_spectra``. Shape (2 * max_shift + 1, pieces,
    windows). Summed over columns, the correlation along the pitch axis is
    ``irfft(sum_t conj(P[k, t]) W[k, t])``: one batched complex matrix product per
    frequency k instead of one real product per shift, about 8x fewer operations.
    Padding the pitch axis to at least 106 + ``max_shift`` rows keeps shifted notes from
    wrapping onto real rows; the sums are integers, recovered exactly by rounding
    (float32 error here is below 1e-3).
    """
    from scipy.fft import irfft

    rows = 2 * (len(piece_spectra) - 1)
    correlation = irfft(np.matmul(piece_spectra, window_spectra.transpose(0, 2, 1)), n=rows, axis=0)
    return np.rint(correlation[np.arange(-max_shift, max_shift + 1) % rows])


def nearest_training_iou(
    pieces: np.ndarray,
    training: np.ndarray,
    max_shift: int = 12,
    sample: int = 1000,
    threshold: float = 0.8,
    seed: int = 0,
    levels: int = 8,
    max_suspects: int = 1000,
    min_notes: int = 8,
    progress: bool = False,
) -> dict:
    """For each piece, the most similar training window by IoU, allowing transposition.

    IoU of lit pixels after shifting the piece by -``max_shift`` .. +``max_shift`` rows (the
    union counts all of the piece's pixels, so notes shifted off the roll stay unmatched).
    Exact IoU for every pair and shift against tens of thousands of windows is too slow
    for two cores, so:

    - the near-copy count (nearest IoU > ``threshold``) is exact over the WHOLE training
      set: a transposition-proof upper bound from column-count profiles (one cheap matrix
      product, ``_iou_upper_bound``) rules out almost every window, and every window it
      cannot rule out for some piece is compared exactly (up to ``max_suspects``
      windows, the highest bounds first; ``near_copies_exact`` says whether all were);
    - the nearest IoU itself is exact over the windows compared: a seeded random sample of
      ``sample`` training windows plus those candidates (all windows when fewer).

    A piece with fewer than ``min_notes`` notes is never a near copy: a lone note matches
    the lone note of some song's last window (POP909 has such a pair across splits).

    The exact comparison correlates along the pitch axis by FFT (``_shifted_intersections``),
    all 25 shifts in one set of matrix products. Returns per-piece arrays
    (``nearest_iou``, ``nearest_index`` into ``training``, ``nearest_shift`` in semitones)
    and the summary: max and mean nearest IoU, near-copy count and share, windows
    compared.
    """
    from tqdm import tqdm

    pieces = np.asarray(pieces, dtype=bool)
    training = np.asarray(training, dtype=bool)
    if pieces.shape[1:] != training.shape[1:]:
        raise ShapeError(f"pieces {pieces.shape[1:]} and training windows {training.shape[1:]} differ in shape")
    n, m = len(pieces), len(training)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(m, dtype=bool)
    chosen[rng.choice(m, min(sample, m), replace=False)] = True
    eligible = np.asarray(metrics.note_count(pieces)).reshape(n) >= min_notes
    bound = np.zeros(m, dtype=np.float32)  # per window: the largest bound over the eligible pieces
    if eligible.any():
        piece_code = _thermometer(pieces[eligible], levels)
        for start in range(0, m, 4096):
            block = _iou_upper_bound(piece_code, _thermometer(training[start : start + 4096], levels))
            bound[start : start + block.shape[1]] = block.max(axis=0)
    suspects = np.flatnonzero(bound > threshold)
    exhaustive = len(suspects) <= max_suspects
    if not exhaustive:
        suspects = suspects[np.argsort(-bound[suspects], kind="stable")[:max_suspects]]
    chosen[suspects] = True
    candidates = np.flatnonzero(chosen)

    best = np.zeros(n)
    best_index = np.full(n, -1)
    best_shift = np.zeros(n, dtype=int)
    rows = 1 << (pieces.shape[1] + max_shift - 1).bit_length()  # a power of two, no wrap-around
    piece_size = np.count_nonzero(pieces, axis=(1, 2)).astype(np.float64)
    blocks = [(p, w) for p in range(0, n, 1024) for w in range(0, len(candidates), 128)]
    piece_spectra, spectra_of = None, None
    for p, w in tqdm(blocks, desc="copying", unit="block", disable=not progress, leave=False):
        if spectra_of != p:
            piece_spectra, spectra_of = _pitch_spectra(pieces[p : p + 1024], rows).conj(), p
        part = np.arange(p, p + piece_spectra.shape[1])
        index = candidates[w : w + 128]
        inter = _shifted_intersections(piece_spectra, _pitch_spectra(training[index], rows), max_shift)
        union = piece_size[None, part, None] + np.count_nonzero(training[index], axis=(1, 2))[None, None, :] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        shift_of = iou.argmax(axis=0)  # (pieces, windows): the best transposition of each pair
        over_shifts = np.take_along_axis(iou, shift_of[None], axis=0)[0]
        window = over_shifts.argmax(axis=1)
        value = over_shifts[np.arange(len(part)), window]
        better = value > best[part]
        target = part[better]
        best[target], best_index[target] = value[better], index[window[better]]
        best_shift[target] = shift_of[better, window[better]] - max_shift
    near = (best > threshold) & eligible
    return {
        "nearest_iou": best.astype(float),
        "nearest_index": best_index,
        "nearest_shift": best_shift,
        "max": float(best.max()) if n else float("nan"),
        "mean": float(best.mean()) if n else float("nan"),
        "threshold": threshold,
        "min_notes": min_notes,
        "near_copies": int(near.sum()),
        "near_copy_share": float(near.mean()) if n else float("nan"),
        "near_copies_exact": bool(exhaustive),
        "training_windows": int(m),
        "compared_exactly": len(candidates),
    }
