"""Musical evaluation: generated rolls against a real split, each figure beside its floor.

``evaluate`` measures generated windows against two real references from the split (by
default the test split): (a) all its windows, and (b) its *training-like* windows, those
whose music spans at least 90% of their width, which is what the trainer keeps
(``pianogan.roll.music_span``, train's ``--min-span``): a generator learns (b), and (a)
adds the beginnings and ends of songs. Against each it runs ``pianogan.evaluation.compare``
(metric distributions, the classifier two-sample test and its accuracy per feature
group, k-NN precision, recall, density and coverage, diversity) and how dense the
window's first and last bars sound against the bars between (``ends``), and measures training
windows of the same kind against the same real windows the same way: that real-vs-real
*floor* is what a perfect generator would score, so every figure is printed beside it.
``write_outputs`` writes ``report.json`` (every figure), ``report.md`` (tables for
people) and two pictures.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pianogan import __version__
from pianogan.errors import DatasetError, PianoganError, ShapeError
from pianogan.evaluation import compare, metrics
from pianogan.io import atomic
from pianogan.io.inputs import MIDI_SUFFIXES, PNG_SUFFIXES, find_inputs
from pianogan.io.outputs import Outputs
from pianogan.io.png import read_png
from pianogan.music import keys
from pianogan.music.strays import decide_notes
from pianogan.roll import PITCH_CLASS_NAMES, WINDOW, music_span, transpose_on_piano, windows

SAMPLE_BATCH = 64
COPY_SAMPLE = 1000
NEAR_COPY_IOU = 0.8
TRAINING_LIKE_SPAN = 0.9  # train's default --min-span


# --- inputs ---------------------------------------------------------------------------------


def load_real(dataset_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A split's windows ``(N, 106, W)`` and each window's song (from ``manifest.csv``).

    The song ids keep one song's windows on one side of the two-sample test's folds.
    They are None when the manifest is missing or does not match the split.
    """
    from pianogan.data.datasets import load_split

    rolls = load_split(dataset_dir, split)
    return rolls, _songs(dataset_dir, split, len(rolls))


def _songs(dataset_dir: str | os.PathLike, split: str, count: int) -> np.ndarray | None:
    from pianogan.data.datasets import read_manifest

    try:
        rows = read_manifest(dataset_dir, split)
    except (OSError, KeyError, ValueError, csv.Error):
        return None
    if not rows or [row["index"] for row in rows] != list(range(count)):
        return None
    return np.unique([row["file"] for row in rows], return_inverse=True)[1]


def load_generated_folder(folder: str | os.PathLike, columns: int = WINDOW) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Windows of the roll PNGs and MIDI files in ``folder`` (searched recursively, hidden
    files and folders skipped, as ``inputs.find_inputs`` does).

    A file exactly ``columns`` wide is one window, kept even when silent (a silent sample
    is a result); longer or shorter ones are cut into ``columns``-wide windows with
    ``pianogan.roll.windows`` (silent windows dropped, as ``prepare`` does for real data).
    Returns ``(rolls, groups, names, skipped)``: ``groups[i]`` is the file that window
    ``i`` came from, ``names`` the files used, ``skipped`` one line per unusable file.
    Raises DatasetError when the folder has no usable file.
    """
    from pianogan.io.midi import read_midi

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder of generated rolls")
    files, _ = find_inputs([folder], PNG_SUFFIXES + MIDI_SUFFIXES)
    if not files:
        raise DatasetError(f"{folder}: no roll PNGs (.png) or MIDI files (.mid, .midi) found")
    rolls: list[np.ndarray] = []
    groups: list[int] = []
    names: list[str] = []
    skipped: list[str] = []
    for path in files:
        try:
            roll = read_png(path) if path.suffix.lower() in PNG_SUFFIXES else read_midi(path)[0]
        except PianoganError as error:
            skipped.append(str(error))
            continue
        cut = [roll] if roll.shape[1] == columns else [w for _, w in windows(roll, columns)]
        if not cut:
            skipped.append(f"{path}: no sounding notes")
            continue
        rolls.extend(cut)
        groups.extend([len(names)] * len(cut))
        names.append(str(path))
    if not rolls:
        raise DatasetError(f"{folder}: no usable roll in {len(files)} files; first problem: {skipped[0]}")
    return np.stack(rolls), np.asarray(groups), names, skipped


DECIDEDNESS_EDGES = (0.0, 0.3, 0.5, 0.6, 0.7, 1.0001)  # probability bins; the last edge takes in 1.0


class Sampled(NamedTuple):
    rolls: np.ndarray  # bool (n, 106, W)
    decidedness: dict[str, float]
    moved_to_drawn_keys: bool  # a key-normalised model's windows, each moved as generate moves its pieces


def decidedness(counts: np.ndarray) -> dict[str, float]:
    """How firmly a generator decides its notes, from ``counts`` of its pixels' probabilities
    in the bins of ``DECIDEDNESS_EDGES``.

    A generator whose sounding pixels sit just above the threshold has barely decided
    them: a slightly different threshold writes different music (docs/design.md measured
    59% of sounding pixels between 0.5 and 0.6 in an early generator).
    """
    total, bins = max(int(counts.sum()), 1), dict(zip(DECIDEDNESS_EDGES[:-1], counts))
    sounding = max(int(bins[0.5] + bins[0.6] + bins[0.7]), 1)
    return {
        "pixels_between_0.3_and_0.7": round(float(bins[0.3] + bins[0.5] + bins[0.6]) / total, 5),
        "sounding_pixels_below_0.6": round(float(bins[0.5]) / sounding, 5),
    }


def sample_model(model_path: str | os.PathLike, n: int, seed: int = 0, threshold: float = 0.5, progress: bool = True) -> Sampled:
    """``n`` binary rolls from a Keras generator, latents ``z ~ N(0, 1)`` from ``default_rng(seed)``,
    decided into notes as ``generate`` decides them (``music.strays.decide_notes``), and how
    firmly it decided them (``decidedness``, counted at the 0.5 threshold).

    A key-normalised model writes every window in one key, and ``generate`` moves piece
    ``k`` of a seed to a key drawn from the training data's (``keys.choose_keys``, weighed by
    the piece's register when the model stores the keys' registers); window ``k`` is moved
    the same way, so what is measured is what a listener gets, not a set
    of windows all in C major that pitch classes alone would tell from real music.
    """
    from tqdm import tqdm

    from pianogan.models.modelio import key_distribution, key_registers, load_generator, read_facts
    from pianogan.models.sampling import latent_dim, probabilities

    model = load_generator(model_path)
    latents = np.random.default_rng(seed).standard_normal((n, latent_dim(model))).astype(np.float32)
    parts, counts = [], np.zeros(len(DECIDEDNESS_EDGES) - 1, dtype=np.int64)
    with tqdm(total=n, desc="sampling", unit="piece", disable=not progress, leave=False) as bar:
        for start in range(0, n, SAMPLE_BATCH):
            batch = probabilities(model, latents[start : start + SAMPLE_BATCH])
            counts += np.histogram(batch, bins=DECIDEDNESS_EDGES)[0]
            parts.append(decide_notes(batch, threshold))
            bar.update(len(parts[-1]))
    rolls = np.concatenate(parts)
    facts = read_facts(model_path)
    distribution = key_distribution(facts)
    for k, key in enumerate(keys.choose_keys(None, [(seed, k) for k in range(n)], distribution, list(rolls), key_registers(facts))):
        if key is not None:
            rolls[k] = transpose_on_piano(rolls[k], keys.transposition_to_key(rolls[k], key))
    return Sampled(rolls, decidedness(counts), distribution is not None)


def subsample(rolls: np.ndarray, groups: np.ndarray | None, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``n`` rows (seeded, without replacement, order kept) and their groups."""
    if len(rolls) <= n:
        return rolls, groups
    keep = np.sort(np.random.default_rng(seed).choice(len(rolls), n, replace=False))
    return rolls[keep], None if groups is None else groups[keep]


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """The report (plain JSON-able dict) and the per-piece features behind its plots
    (against all real windows: the floor is the training sample drawn for them)."""

    report: dict
    generated: np.ndarray  # classifier features, one row per generated window
    real: np.ndarray
    train: np.ndarray


@dataclass
class _Reference:
    """A real set to measure against, and the training windows of the same kind for its floor."""

    description: str
    keep: np.ndarray  # which real windows belong to it
    train_windows: int  # training windows of its kind
    floor: np.ndarray  # rolls: a seeded sample of those, as many as real windows
    floor_groups: np.ndarray | None


def _references(real: np.ndarray, train: np.ndarray, train_groups: np.ndarray | None, min_span: float, seed: int) -> dict[str, _Reference]:
    """(a) all real windows, floor from all training windows; (b) the training-like ones
    (music across ``min_span`` of the width or more), floor from training-like training windows."""
    like_real, like_train = music_span(real) >= min_span, music_span(train) >= min_span
    references = {}
    for key, description, keep, kind in (
        ("all", "all windows of the split", np.ones(len(real), dtype=bool), np.ones(len(train), dtype=bool)),
        ("training_like", f"training-like windows: music across at least {min_span:.0%} of the width", like_real, like_train),
    ):
        groups = None if train_groups is None else train_groups[kind]
        floor, floor_groups = subsample(train[kind], groups, int(keep.sum()), seed)
        references[key] = _Reference(description, keep, int(kind.sum()), floor, floor_groups)
    return references


def _copying_summary(result: dict) -> dict:
    order = np.argsort(-result["nearest_iou"], kind="stable")[:10]
    closest = [
        {
            "piece": int(i),
            "training_window": int(result["nearest_index"][i]),
            "transposition": int(result["nearest_shift"][i]),
            "iou": float(result["nearest_iou"][i]),
        }
        for i in order
    ]
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)} | {"closest": closest}


def _mean_overlap(rows: dict[str, dict]) -> float:
    overlaps = [row["overlap"] for row in rows.values() if np.isfinite(row["overlap"])]
    return float(np.mean(overlaps)) if overlaps else float("nan")


DENSE_END = 2.0  # an end sounding this many times as many pitches at once as the bars between


def ends(rolls: np.ndarray) -> dict[str, float]:
    """How dense the first bar and the last (``metrics.pitches_sounding_at_the_ends``) sound
    against the bars between: the ratio of their mean numbers of pitches sounding at once
    over all ``rolls``, and the share of rolls whose end sounds ``DENSE_END`` times as
    dense as their own bars between, or more (of those with anything sounding between)."""
    first, between, last = np.moveaxis(metrics.pitches_sounding_at_the_ends(rolls), -1, 0)
    sounding = between > 0
    figures = {}
    for name, end in (("first_bar", first), ("last_bar", last)):
        figures[f"{name}_density"] = float(end.sum() / between.sum()) if sounding.any() else float("nan")
        figures[f"{name}_dense_share"] = float(np.mean(end[sounding] >= DENSE_END * between[sounding])) if sounding.any() else float("nan")
    return figures


def _metric_figures(x_real: np.ndarray, x_generated: np.ndarray, x_floor: np.ndarray, seed: int) -> dict:
    """MGEval overlap and KL of every scalar metric, generated and floor against real, and their means."""
    scalar = len(metrics.FEATURE_NAMES)
    versus = compare.compare_features(x_real[:, :scalar], x_generated[:, :scalar], seed=seed)
    floor = compare.compare_features(x_real[:, :scalar], x_floor[:, :scalar], seed=seed)
    return {
        "metrics": {name: versus[name] | {"floor": floor[name]} for name in metrics.FEATURE_NAMES},
        "mean_overlap": {"generated_vs_real": _mean_overlap(versus), "floor_train_vs_real": _mean_overlap(floor)},
    }


def _classifier_figures(x_real: np.ndarray, x_generated: np.ndarray, x_floor: np.ndarray, groups: tuple, seed: int) -> dict:
    """The two-sample test on all features and on each feature group, generated and floor
    against real; ``groups`` are the (real, generated, floor) song ids or Nones."""
    real_groups, generated_groups, floor_groups = groups
    versus = compare.group_two_sample_tests(x_real, x_generated, real_groups, generated_groups, seed=seed)
    floor = compare.group_two_sample_tests(x_real, x_floor, real_groups, floor_groups, seed=seed)
    return {
        "two_sample_test": {
            "generated_vs_real": compare.two_sample_test(x_real, x_generated, real_groups, generated_groups, seed=seed),
            "floor_train_vs_real": compare.two_sample_test(x_real, x_floor, real_groups, floor_groups, seed=seed),
        },
        "feature_groups": {name: {"generated_vs_real": versus[name], "floor_train_vs_real": floor[name]} for name in versus},
    }


def evaluate(
    generated: np.ndarray,
    real: np.ndarray,
    train: np.ndarray,
    generated_groups: np.ndarray | None = None,
    real_groups: np.ndarray | None = None,
    train_groups: np.ndarray | None = None,
    seed: int = 0,
    copy_sample: int = COPY_SAMPLE,
    min_span: float = TRAINING_LIKE_SPAN,
    threads: int | None = 1,
    progress: bool = True,
) -> Evaluation:
    """Compare ``generated`` windows with two references drawn from ``real`` (all of them, and
    the training-like ones), each beside its floor: training windows of the same kind
    measured against the same real windows.

    For each floor's metric and classifier figures, as many training windows as the
    reference has real ones are drawn (seeded); for copying, generated and real windows
    are each matched against all of ``train``. Groups (song ids) keep a song's windows
    within one fold of the two-sample tests; None makes each window its own group.

    Matrix products and FFTs run on ``threads`` threads (None: the libraries' default).
    One is the default because this work is many mid-sized products: on a two-core
    machine shared with other jobs, two BLAS threads waiting on each other made the
    whole evaluation 3-5x slower, and on an idle one a single thread costs at most 2x.
    """
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    if generated.shape[1:] != real.shape[1:] or train.shape[1:] != real.shape[1:]:
        raise ShapeError(f"window shapes differ: generated {generated.shape[1:]}, real {real.shape[1:]}, train {train.shape[1:]}")
    references = _references(real, train, train_groups, min_span, seed)
    timing: dict[str, float] = {}
    bar = tqdm(total=6, desc="evaluate", unit="stage", disable=not progress)

    @contextlib.contextmanager
    def stage(name: str) -> Iterator[None]:
        bar.set_postfix_str(name)
        started = time.perf_counter()
        yield
        timing[name] = round(time.perf_counter() - started, 3)
        bar.update()

    results: dict[str, dict] = {}
    with bar, threadpool_limits(threads):
        with stage("features"):
            x_generated = compare.classifier_features(generated)
            x_real = compare.classifier_features(real)
            x = {key: (x_real[ref.keep], x_generated, compare.classifier_features(ref.floor)) for key, ref in references.items()}
            for key, ref in references.items():
                results[key] = {
                    "description": ref.description,
                    "counts": {"real": int(ref.keep.sum()), "train": ref.train_windows, "floor_train_sample": len(ref.floor)},
                }

        with stage("metric distributions"):
            for key, sets in x.items():
                results[key] |= _metric_figures(*sets, seed=seed)

        with stage("two-sample tests"):
            for key, sets in x.items():
                ref = references[key]
                groups = (None if real_groups is None else real_groups[ref.keep], generated_groups, ref.floor_groups)
                results[key] |= _classifier_figures(*sets, groups, seed=seed)

        with stage("precision and recall"):
            for key, (x_ref, _, x_floor) in x.items():
                results[key]["precision_recall_density_coverage"] = {
                    "generated_vs_real": compare.precision_recall_density_coverage(x_ref, x_generated, seed=seed),
                    "floor_train_vs_real": compare.precision_recall_density_coverage(x_ref, x_floor, seed=seed),
                }

        with stage("diversity and ends"):
            generated_diversity, generated_ends = compare.diversity(generated, seed=seed), ends(generated)
            for key, ref in references.items():
                results[key]["diversity"] = {
                    "generated": generated_diversity,
                    "real": compare.diversity(real[ref.keep], seed=seed),
                    "train": compare.diversity(ref.floor, seed=seed),
                }
                results[key]["ends"] = {"generated": generated_ends, "real": ends(real[ref.keep]), "train": ends(ref.floor)}

        with stage("copying"):
            options = dict(sample=copy_sample, threshold=NEAR_COPY_IOU, seed=seed, progress=progress)
            copying = {
                "generated_vs_train": _copying_summary(compare.nearest_training_iou(generated, train, **options)),
                "floor_real_vs_train": _copying_summary(compare.nearest_training_iou(real, train, **options)),
            }

    report = {
        "pianogan_version": __version__,
        "counts": {"generated": len(generated), "real": len(real), "train": len(train)},
        "seed": seed,
        "min_span": min_span,
        "classifier_features": list(compare.CLASSIFIER_FEATURES),
        "feature_groups": {name: list(features) for name, features in compare.FEATURE_GROUPS.items()},
        "references": results,
        "copying": copying,
        "seconds": timing,
    }
    return Evaluation(report, x_generated, x_real, x["all"][2])


# --- outputs ------------------------------------------------------------------------------------


def _plain(value):
    """JSON-able copy: numpy scalars to Python, NaN and infinities to None (null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value


def _finite(value) -> bool:
    """A number that is neither None (NaN once written as JSON) nor NaN nor infinite."""
    return value is not None and math.isfinite(value)


def _number(value, digits: int = 3) -> str:
    if not _finite(value):
        return "n/a"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


REFERENCE_TITLES = {"all": "all real windows", "training_like": "training-like real windows"}
PRDC_ROWS = (
    ("precision", "precision: generated windows inside the real manifold"),
    ("recall", "recall: real windows inside the generated manifold"),
    ("density", "density (1 = as dense as real among real)"),
    ("coverage", "coverage: real neighbourhoods holding a generated window"),
)


def _both(section: dict, field: str) -> list:
    """A figure of the generated set and of the floor: ``[generated_vs_real, floor_train_vs_real]``."""
    return [section["generated_vs_real"][field], section["floor_train_vs_real"][field]]


def _headline_rows(reference: dict) -> list[tuple[str, list]]:
    """(label, [generated, floor]) of each headline figure against one reference."""
    overlap, prdc = reference["mean_overlap"], reference["precision_recall_density_coverage"]
    return [
        ("classifier two-sample accuracy (0.5 = indistinguishable)", _both(reference["two_sample_test"], "accuracy")),
        (f"mean MGEval overlap over {len(reference['metrics'])} metrics (1 = same)", [overlap["generated_vs_real"], overlap["floor_train_vs_real"]]),
        *((label, _both(prdc, field)) for field, label in PRDC_ROWS),
        ("diversity, 1 - IoU of lit pixels (floor: the real windows')", [reference["diversity"]["generated"], reference["diversity"]["real"]]),
    ]


def _headline_table(report: dict) -> list[str]:
    references = report["references"]
    per_reference = [_headline_rows(ref) for ref in references.values()]
    lines = [
        "| figure | " + " | ".join(f"{REFERENCE_TITLES[key]}: generated | floor" for key in references) + " |",
        "|---|" + "---:|---:|" * len(references),
    ]
    for i, (label, _) in enumerate(per_reference[0]):
        lines.append(f"| {label} | " + " | ".join(_number(c) for rows in per_reference for c in rows[i][1]) + " |")
    return lines


def _metric_table(reference: dict) -> list[str]:
    lines = ["| group | metric | generated | real | floor | overlap | floor | KL | floor |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for group, features in compare.FEATURE_GROUPS.items():
        for name in (f for f in features if f in reference["metrics"]):
            row = reference["metrics"][name]
            floor = row["floor"]
            cells = [row["generated_mean"], row["real_mean"], floor["generated_mean"], row["overlap"], floor["overlap"], row["kl"], floor["kl"]]
            lines.append(f"| {group} | {name} | " + " | ".join(_number(c) for c in cells) + " |")
    return lines


def _group_table(report: dict) -> list[str]:
    references = report["references"]
    lines = [
        "| group | features | " + " | ".join(f"{REFERENCE_TITLES[key]}: accuracy | floor" for key in references) + " |",
        "|---|---:|" + "---:|---:|" * len(references),
    ]
    for group, features in report["feature_groups"].items():
        cells = [c for ref in references.values() for c in _both(ref["feature_groups"][group], "accuracy")]
        lines.append(f"| {group} | {len(features)} | " + " | ".join(_number(c) for c in cells) + " |")
    lines += [""] + [f"- {group}: {', '.join(features)}" for group, features in report["feature_groups"].items()]
    return lines


def _classifier_table(report: dict) -> list[str]:
    lines = ["| against | accuracy | fold std | windows per class | floor accuracy | floor fold std |", "|---|---:|---:|---:|---:|---:|"]
    for key, ref in report["references"].items():
        versus, floor = ref["two_sample_test"]["generated_vs_real"], ref["two_sample_test"]["floor_train_vs_real"]
        cells = [versus["accuracy"], versus["fold_std"], versus["rows_per_class"], floor["accuracy"], floor["fold_std"]]
        lines.append(f"| {REFERENCE_TITLES[key]} | " + " | ".join(_number(c) for c in cells) + " |")
    return lines


ENDS_ROWS = (
    ("first_bar_density", "first bar: pitches sounding at once, against the bars between"),
    ("first_bar_dense_share", f"windows whose first bar sounds {DENSE_END:g}x as dense as the bars between"),
    ("last_bar_density", "last bar and a half: pitches sounding at once, against the bars between"),
    ("last_bar_dense_share", f"windows whose last bar and a half sound {DENSE_END:g}x as dense as the bars between"),
)


def _ends_table(report: dict) -> list[str]:
    references = report["references"]
    lines = [
        "| figure | " + " | ".join(f"{REFERENCE_TITLES[key]}: generated | real | floor" for key in references) + " |",
        "|---|" + "---:|---:|---:|" * len(references),
    ]
    for field, label in ENDS_ROWS:
        cells = [ref["ends"][side][field] for ref in references.values() for side in ("generated", "real", "train")]
        lines.append(f"| {label} | " + " | ".join(_number(c, 2) for c in cells) + " |")
    return lines


def _copying_table(report: dict) -> list[str]:
    gen, real = report["copying"]["generated_vs_train"], report["copying"]["floor_real_vs_train"]
    lines = []
    if not (gen["near_copies_exact"] and real["near_copies_exact"]):
        lines += ["Too many windows passed the bound to compare them all: near-copy counts are lower bounds.", ""]
    return [
        *lines,
        "| | generated vs train | floor: real vs train |",
        "|---|---:|---:|",
        f"| max nearest IoU | {_number(gen['max'])} | {_number(real['max'])} |",
        f"| mean nearest IoU | {_number(gen['mean'])} | {_number(real['mean'])} |",
        f"| near copies (IoU > {gen['threshold']}, {gen['min_notes']}+ notes) | {gen['near_copies']:,} ({_number(gen['near_copy_share'])}) | {real['near_copies']:,} ({_number(real['near_copy_share'])}) |",
        f"| training windows compared exactly | {gen['compared_exactly']:,} of {gen['training_windows']:,} | {real['compared_exactly']:,} of {real['training_windows']:,} |",
    ]


def report_markdown(report: dict) -> str:
    """``report.md``: every figure in tables, against both references, the floor beside each."""
    source = report.get("source", {})
    counts, references = report["counts"], report["references"]
    like = references["training_like"]["counts"]
    lines = [
        "# pianogan evaluation",
        "",
        f"- generated: {counts['generated']:,} windows from {source.get('generated', 'the given rolls')}",
        f"- real, two references from {source.get('real', 'the real split')}: (a) all {counts['real']:,} windows; "
        f"(b) the {like['real']:,} training-like ones, whose music spans at least {report['min_span']:.0%} of their width "
        "(the trainer keeps only such windows, so (b) is what the generator learns)",
        f"- floor: windows of {source.get('train', 'the training split')} of the same kind ({references['all']['counts']['floor_train_sample']:,} "
        f"of all {counts['train']:,}; {like['floor_train_sample']:,} of its {like['train']:,} training-like ones) measured against the same "
        "real windows; a generator as good as real data scores the floor",
        f"- seed {report['seed']}; pianogan {report['pianogan_version']}",
        "",
        "## Headline",
        "",
        *_headline_table(report),
        "",
        "Precision and recall: Kynkaanniemi et al., NeurIPS 2019; density and coverage: Naeem et al., "
        f"ICML 2020; k = {references['all']['precision_recall_density_coverage']['generated_vs_real']['k']} nearest neighbours "
        "among the classifier's per-window features (missing values set to the real median, standardised by the real set, "
        "projected on its first 20 principal components), at equal sizes: the larger set in disjoint draws of the smaller one's size, "
        "the figures averaged over the draws.",
        "",
        "## Metric distributions",
        "",
        "Overlap and KL follow MGEval (Yang & Lerch 2018): distances within the real set against "
        "distances from real to the other set; overlap 1 and KL 0 mean the same distribution. "
        "Means leave out pieces where a metric is undefined (e.g. note length of a silent window); "
        "definitions are in `pianogan.evaluation.metrics`.",
    ]
    for key, ref in references.items():
        lines += ["", f"### Against {REFERENCE_TITLES[key]} ({ref['counts']['real']:,})", "", *_metric_table(ref)]
    lines += [
        "",
        "## Which features give the generated windows away",
        "",
        "The two-sample classifier's accuracy on each group of features alone (0.5 = the group looks real).",
        "",
        *_group_table(report),
        "",
        "## Two-sample classifier",
        "",
        f"Gradient boosting on {len(report['classifier_features'])} per-window features, cross-validated by song; "
        "0.5 = indistinguishable, 1.0 = always told apart.",
        "",
        *_classifier_table(report),
        "",
        "## The window's ends",
        "",
        "Every metric above is a mean over the window, and a cluster piled into its first or last bar "
        "hides in them; real windows sound no denser at their ends than between them "
        "(`pianogan.evaluation.metrics.pitches_sounding_at_the_ends`).",
        "",
        *_ends_table(report),
        "",
        "## Copying",
        "",
        "Each window's nearest training window by IoU of lit pixels, transposed by up to an "
        "octave either way. Near copies are sought among all training windows (a bound from "
        "rhythm profiles rules most out; the rest are compared exactly); the nearest IoU is "
        "exact over the windows compared, a seeded sample plus those.",
        "",
        *_copying_table(report),
        "",
        "![metric histograms](histograms.png)",
        "",
        "![generated and real rolls](rolls.png)",
        "",
    ]
    return "\n".join(lines)


def plot_histograms(evaluation: Evaluation, path: str | os.PathLike) -> None:
    """One panel per metric: real, generated and training (floor) histograms overlaid;
    then the mean pitch-class and note-length shares as bars."""
    from matplotlib.figure import Figure

    names = list(metrics.FEATURE_NAMES)
    panels = len(names) + 2
    cols = 5
    fig = Figure(figsize=(3.4 * cols, 2.6 * -(-panels // cols)))
    axes = fig.subplots(-(-panels // cols), cols).ravel()
    sets = [("real", evaluation.real, "#1f77b4"), ("generated", evaluation.generated, "#d62728"), ("train (floor)", evaluation.train, "#7f7f7f")]
    for k, name in enumerate(names):
        ax = axes[k]
        columns = [x[:, k][np.isfinite(x[:, k])] for _, x, _ in sets]
        pooled = np.concatenate(columns)
        bins = np.histogram_bin_edges(pooled, bins=30) if len(pooled) and np.ptp(pooled) > 0 else 10
        for (label, _, colour), values in zip(sets, columns):
            if len(values):
                style = dict(histtype="step", linestyle="--") if label.startswith("train") else dict(histtype="stepfilled", alpha=0.35)
                ax.hist(values, bins=bins, density=True, color=colour, label=label, **style)
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
    bars = [(compare.PITCH_CLASS_FEATURES, PITCH_CLASS_NAMES), (compare.NOTE_LENGTH_FEATURES, metrics.LENGTH_BIN_LABELS)]
    for offset, (features, labels) in enumerate(bars):
        ax = axes[len(names) + offset]
        idx = [compare.CLASSIFIER_FEATURES.index(f) for f in features]
        width = 0.27
        for j, (label, x, colour) in enumerate(sets):
            means = [float(np.mean(c[np.isfinite(c)])) if np.isfinite(c).any() else 0.0 for c in x[:, idx].T]
            ax.bar(np.arange(len(idx)) + (j - 1) * width, means, width, color=colour, label=label)
        ax.set_xticks(np.arange(len(idx)), labels, fontsize=7)
        ax.set_title("pitch class share" if offset == 0 else "note length share (columns)", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[panels:]:
        ax.axis("off")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    with atomic.atomic_path(path, check=atomic.complete_png) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


def plot_rolls(generated: np.ndarray, real: np.ndarray, path: str | os.PathLike, count: int = 4, seed: int = 0) -> None:
    """A grid of generated windows (left) beside real ones (right), drawn for people."""
    from matplotlib.figure import Figure

    from pianogan.roll import plot_roll

    rng = np.random.default_rng(seed)
    rows = min(count, max(len(generated), len(real)))
    fig = Figure(figsize=(16, 2.8 * rows))
    axes = fig.subplots(rows, 2, squeeze=False)
    for col, (label, rolls) in enumerate([("generated", generated), ("real", real)]):
        picks = rng.choice(len(rolls), min(rows, len(rolls)), replace=False) if len(rolls) else []
        for row in range(rows):
            ax = axes[row, col]
            if row < len(picks):
                plot_roll(rolls[picks[row]], ax=ax, title=f"{label} #{picks[row]}")
            else:
                ax.axis("off")
    fig.tight_layout()
    with atomic.atomic_path(path, check=atomic.complete_png) as tmp:
        fig.savefig(tmp, format="png", dpi=70)


OUTPUT_NAMES = ("report.json", "report.md", "histograms.png", "rolls.png")


def output_folder(out_dir: str | os.PathLike) -> Outputs:
    """The output folder, once none of ``OUTPUT_NAMES`` in it belongs to someone else and
    it can be written (``Outputs.probe``): checked before the evaluation, so that no result
    is lost; nothing is created."""
    outputs = Outputs.at(out_dir)
    outputs.check(OUTPUT_NAMES)
    return outputs.probe()


def write_outputs(evaluation: Evaluation, generated: np.ndarray, real: np.ndarray, out_dir: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write report.json, report.md, histograms.png and rolls.png into ``out_dir`` (atomically)."""
    outputs = output_folder(out_dir).create()
    paths = {name: outputs.folder / name for name in OUTPUT_NAMES}
    with outputs.writing(OUTPUT_NAMES, "evaluate"):
        started = time.perf_counter()
        plot_histograms(evaluation, paths["histograms.png"])
        plot_rolls(generated, real, paths["rolls.png"], seed=seed)
        evaluation.report["seconds"]["plots"] = round(time.perf_counter() - started, 3)
        plain = _plain(evaluation.report)
        atomic.write_text(paths["report.json"], json.dumps(plain, indent=1, ensure_ascii=False) + "\n")
        atomic.write_text(paths["report.md"], report_markdown(plain))
    outputs.report()
    return paths


def summary_lines(report: dict) -> list[str]:
    """The headline figures for the terminal, each with its floor."""
    lines = []
    for key, ref in report["references"].items():
        c2st, overlap = _both(ref["two_sample_test"], "accuracy"), ref["mean_overlap"]
        prdc = ref["precision_recall_density_coverage"]
        figures = "/".join(_number(prdc["generated_vs_real"][f], 2) for f, _ in PRDC_ROWS)
        floors = "/".join(_number(prdc["floor_train_vs_real"][f], 2) for f, _ in PRDC_ROWS)
        lines.append(
            f"{REFERENCE_TITLES[key]} ({ref['counts']['real']:,}): classifier accuracy {_number(c2st[0])} (floor {_number(c2st[1])}), "
            f"mean overlap {_number(overlap['generated_vs_real'])} (floor {_number(overlap['floor_train_vs_real'])}), "
            f"precision/recall/density/coverage {figures} (floor {floors})"
        )
    accuracy = {g: r["generated_vs_real"]["accuracy"] for g, r in report["references"]["training_like"]["feature_groups"].items()}
    telling = sorted((g for g in accuracy if _finite(accuracy[g])), key=lambda g: -accuracy[g])[:3]
    lines.append("features that give it away most (training-like): " + (", ".join(f"{g} {_number(accuracy[g])}" for g in telling) or "n/a"))
    diversity = report["references"]["all"]["diversity"]
    gen, real = report["copying"]["generated_vs_train"], report["copying"]["floor_real_vs_train"]
    lines += [
        f"diversity {_number(diversity['generated'])} (real {_number(diversity['real'])})",
        f"near copies of training windows {gen['near_copies']} of {report['counts']['generated']} (floor {real['near_copies']} of {report['counts']['real']}); max nearest IoU {_number(gen['max'])} (floor {_number(real['max'])})",
    ]
    if "decidedness" in report:
        decided = report["decidedness"]
        lines.append(
            f"undecided notes: {_number(decided['pixels_between_0.3_and_0.7'])} of all pixels between 0.3 and 0.7, "
            f"{_number(decided['sounding_pixels_below_0.6'])} of sounding ones below 0.6"
        )
    return lines
