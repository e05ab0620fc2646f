"""Musical evaluation: generated rolls against a real split, each figure beside its floor.

``evaluate`` measures generated windows against real ones (by default the test split)
with ``pianogan.compare``, and measures the training split against the same real windows
the same way: that real-vs-real *floor* is what a perfect generator would score, so
every figure is printed beside it. ``write_outputs`` writes ``report.json`` (every
figure), ``report.md`` (tables for people) and two pictures.
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

import numpy as np

from pianogan import __version__, atomic, compare, metrics
from pianogan.errors import PianoganError
from pianogan.inputs import MIDI_SUFFIXES, PNG_SUFFIXES
from pianogan.roll import PITCH_CLASS_NAMES, WINDOW, read_png, windows

SAMPLE_BATCH = 64
COPY_SAMPLE = 1000
NEAR_COPY_IOU = 0.8


# --- inputs ---------------------------------------------------------------------------------


def load_real(dataset_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A split's windows ``(N, 106, W)`` and each window's song (from ``manifest.csv``).

    The song ids keep one song's windows on one side of the two-sample test's folds.
    They are None when the manifest is missing or does not match the split.
    """
    from pianogan.datasets import load_split

    rolls = load_split(dataset_dir, split)
    return rolls, _songs(dataset_dir, split, len(rolls))


def _songs(dataset_dir: str | os.PathLike, split: str, count: int) -> np.ndarray | None:
    from pianogan.datasets import read_manifest

    try:
        rows = read_manifest(dataset_dir, split)
    except (OSError, KeyError, ValueError, csv.Error):
        return None
    if not rows or [row["index"] for row in rows] != list(range(count)):
        return None
    return np.unique([row["file"] for row in rows], return_inverse=True)[1]


def load_generated_folder(folder: str | os.PathLike, columns: int = WINDOW) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Windows of the roll PNGs and MIDI files in ``folder`` (searched recursively).

    A file exactly ``columns`` wide is one window, kept even when silent (a silent sample
    is a result); longer or shorter ones are cut into ``columns``-wide windows with
    ``pianogan.roll.windows`` (silent windows dropped, as ``prepare`` does for real data).
    Returns ``(rolls, groups, names, skipped)``: ``groups[i]`` is the file that window
    ``i`` came from, ``names`` the files used, ``skipped`` one line per unusable file.
    Raises PianoganError when the folder has no usable file.
    """
    from pianogan.midi import read_midi

    folder = Path(folder)
    if not folder.is_dir():
        raise PianoganError(f"{folder}: no such folder of generated rolls")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PNG_SUFFIXES + MIDI_SUFFIXES)
    if not files:
        raise PianoganError(f"{folder}: no roll PNGs (.png) or MIDI files (.mid, .midi) found")
    rolls, groups, names, skipped = [], [], [], []
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
        raise PianoganError(f"{folder}: no usable roll in {len(files)} files; first problem: {skipped[0]}")
    return np.stack(rolls), np.asarray(groups), names, skipped


def sample_model(model_path: str | os.PathLike, n: int, seed: int = 0, threshold: float = 0.5, progress: bool = True) -> np.ndarray:
    """``n`` binary rolls from a Keras generator, latents ``z ~ N(0, 1)`` from ``default_rng(seed)``."""
    from tqdm import tqdm

    from pianogan.generate import latent_dim, probabilities
    from pianogan.modelio import load_generator

    model = load_generator(model_path)
    latents = np.random.default_rng(seed).standard_normal((n, latent_dim(model))).astype(np.float32)
    parts = []
    with tqdm(total=n, desc="sampling", unit="piece", disable=not progress, leave=False) as bar:
        for start in range(0, n, SAMPLE_BATCH):
            parts.append(probabilities(model, latents[start : start + SAMPLE_BATCH]) >= threshold)
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def subsample(rolls: np.ndarray, groups: np.ndarray | None, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``n`` rows (seeded, without replacement, order kept) and their groups."""
    if len(rolls) <= n:
        return rolls, groups
    keep = np.sort(np.random.default_rng(seed).choice(len(rolls), n, replace=False))
    return rolls[keep], None if groups is None else groups[keep]


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """The report (plain JSON-able dict) and the per-piece features behind its plots."""

    report: dict
    generated: np.ndarray  # classifier features, one row per generated window
    real: np.ndarray
    train: np.ndarray


def _copying_summary(result: dict) -> dict:
    order = np.argsort(-result["nearest_iou"], kind="stable")[:10]
    closest = [{"piece": int(i), "training_window": int(result["nearest_index"][i]), "transposition": int(result["nearest_shift"][i]), "iou": float(result["nearest_iou"][i])} for i in order]
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)} | {"closest": closest}


def evaluate(
    generated: np.ndarray,
    real: np.ndarray,
    train: np.ndarray,
    generated_groups: np.ndarray | None = None,
    real_groups: np.ndarray | None = None,
    train_groups: np.ndarray | None = None,
    seed: int = 0,
    copy_sample: int = COPY_SAMPLE,
    threads: int | None = 1,
    progress: bool = True,
) -> Evaluation:
    """Compare ``generated`` windows with ``real`` ones, and the training split with the same
    ``real`` windows as the floor.

    For the floor's metric and classifier figures, ``len(real)`` training windows are drawn
    (seeded); for copying, generated and real windows are each matched against all of
    ``train``. Groups (song ids) keep a song's windows within one fold of the two-sample
    test; None makes each window its own group.

    Matrix products and FFTs run on ``threads`` threads (None: the libraries' default).
    One is the default because this work is many mid-sized products: on a two-core
    machine shared with other jobs, two BLAS threads waiting on each other made the
    whole evaluation 3-5x slower, and on an idle one a single thread costs at most 2x.
    """
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    if generated.shape[1:] != real.shape[1:] or train.shape[1:] != real.shape[1:]:
        raise PianoganError(f"window shapes differ: generated {generated.shape[1:]}, real {real.shape[1:]}, train {train.shape[1:]}")
    floor_rolls, floor_groups = subsample(train, train_groups, len(real), seed)
    timing: dict[str, float] = {}
    bar = tqdm(total=5, desc="evaluate", unit="stage", disable=not progress)

    @contextlib.contextmanager
    def stage(name: str) -> Iterator[None]:
        bar.set_postfix_str(name)
        started = time.perf_counter()
        yield
        timing[name] = round(time.perf_counter() - started, 3)
        bar.update()

    with bar, threadpool_limits(threads):
        with stage("features"):
            x_generated = compare.classifier_features(generated)
            x_real = compare.classifier_features(real)
            x_floor = compare.classifier_features(floor_rolls)

        with stage("metric distributions"):
            scalar = len(metrics.FEATURE_NAMES)
            versus = compare.compare_features(x_real[:, :scalar], x_generated[:, :scalar], seed=seed)
            floor = compare.compare_features(x_real[:, :scalar], x_floor[:, :scalar], seed=seed)
            metric_rows = {name: versus[name] | {"floor": floor[name]} for name in metrics.FEATURE_NAMES}

        with stage("two-sample test"):
            c2st = {
                "generated_vs_real": compare.two_sample_test(x_real, x_generated, real_groups, generated_groups, seed=seed),
                "floor_train_vs_real": compare.two_sample_test(x_real, x_floor, real_groups, floor_groups, seed=seed),
                "features": list(compare.CLASSIFIER_FEATURES),
            }

        with stage("diversity"):
            diversity = {name: compare.diversity(rolls, seed=seed) for name, rolls in (("generated", generated), ("real", real), ("train", floor_rolls))}

        with stage("copying"):
            options = dict(sample=copy_sample, threshold=NEAR_COPY_IOU, seed=seed, progress=progress)
            copying = {
                "generated_vs_train": _copying_summary(compare.nearest_training_iou(generated, train, **options)),
                "floor_real_vs_train": _copying_summary(compare.nearest_training_iou(real, train, **options)),
            }

    report = {
        "pianogan_version": __version__,
        "counts": {"generated": len(generated), "real": len(real), "train": len(train), "floor_train_sample": len(floor_rolls)},
        "seed": seed,
        "metrics": metric_rows,
        "two_sample_test": c2st,
        "diversity": diversity,
        "copying": copying,
        "seconds": timing,
    }
    return Evaluation(report, x_generated, x_real, x_floor)


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


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


def report_markdown(report: dict) -> str:
    """``report.md``: every figure in tables, the real-vs-real floor beside each."""
    source = report.get("source", {})
    counts = report["counts"]
    lines = [
        "# pianogan evaluation",
        "",
        f"- generated: {counts['generated']:,} windows from {source.get('generated', 'the given rolls')}",
        f"- real: {counts['real']:,} windows of {source.get('real', 'the real split')}",
        f"- floor: {counts['floor_train_sample']:,} windows of {source.get('train', 'the training split')} "
        f"measured against the same real windows; a generator as good as real data scores the floor",
        f"- seed {report['seed']}; pianogan {report['pianogan_version']}",
        "",
        "## Metric distributions",
        "",
        "Overlap and KL follow MGEval (Yang & Lerch 2018): distances within the real set against "
        "distances from real to the other set; overlap 1 and KL 0 mean the same distribution. "
        "Means leave out pieces where a metric is undefined (e.g. note length of a silent window).",
        "",
        "| metric | real | generated | train (floor) | overlap | floor | KL | floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in report["metrics"].items():
        floor = row["floor"]
        cells = [row["real_mean"], row["generated_mean"], floor["generated_mean"], row["overlap"], floor["overlap"], row["kl"], floor["kl"]]
        lines.append(f"| {name} | " + " | ".join(_number(c) for c in cells) + " |")
    c2st = report["two_sample_test"]
    versus, floor = c2st["generated_vs_real"], c2st["floor_train_vs_real"]
    lines += [
        "",
        "## Two-sample classifier",
        "",
        f"Gradient boosting on {len(c2st['features'])} per-window features, cross-validated by song; "
        "0.5 = indistinguishable, 1.0 = always told apart.",
        "",
        "| | accuracy | fold std | windows per class | floor (train vs real) |",
        "|---|---:|---:|---:|---:|",
        f"| generated vs real | {_number(versus['accuracy'])} | {_number(versus['fold_std'])} | {versus['rows_per_class']:,} | {_number(floor['accuracy'])} |",
        "",
        "## Diversity",
        "",
        "Mean pairwise distance 1 - IoU of lit pixels (0 = all pieces identical).",
        "",
        "| generated | real (floor) | train |",
        "|---:|---:|---:|",
        f"| {_number(report['diversity']['generated'])} | {_number(report['diversity']['real'])} | {_number(report['diversity']['train'])} |",
        "",
        "## Copying",
        "",
        "Each window's nearest training window by IoU of lit pixels, transposed by up to an "
        "octave either way. Near copies are sought among all training windows (a bound from "
        "rhythm profiles rules most out; the rest are compared exactly); the nearest IoU is "
        "exact over the windows compared, a seeded sample plus those.",
        "",
        "| | generated vs train | floor: real vs train |",
        "|---|---:|---:|",
    ]
    gen, real = report["copying"]["generated_vs_train"], report["copying"]["floor_real_vs_train"]
    threshold = gen["threshold"]
    if not (gen["near_copies_exact"] and real["near_copies_exact"]):
        lines[-3:-3] = ["", "Too many windows passed the bound to compare them all: near-copy counts are lower bounds."]
    lines += [
        f"| max nearest IoU | {_number(gen['max'])} | {_number(real['max'])} |",
        f"| mean nearest IoU | {_number(gen['mean'])} | {_number(real['mean'])} |",
        f"| near copies (IoU > {threshold}, {gen['min_notes']}+ notes) | {gen['near_copies']:,} ({_number(gen['near_copy_share'])}) | {real['near_copies']:,} ({_number(real['near_copy_share'])}) |",
        f"| training windows compared exactly | {gen['compared_exactly']:,} of {gen['training_windows']:,} | {real['compared_exactly']:,} of {real['training_windows']:,} |",
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
    with atomic.atomic_path(path) as tmp:
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
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=70)


def write_outputs(evaluation: Evaluation, generated: np.ndarray, real: np.ndarray, out_dir: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write report.json, report.md, histograms.png and rolls.png into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PianoganError(f"{out}: output exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("report.json", "report.md", "histograms.png", "rolls.png")}
    started = time.perf_counter()
    plot_histograms(evaluation, paths["histograms.png"])
    plot_rolls(generated, real, paths["rolls.png"], seed=seed)
    evaluation.report["seconds"]["plots"] = round(time.perf_counter() - started, 3)
    plain = _plain(evaluation.report)
    atomic.write_text(paths["report.json"], json.dumps(plain, indent=1, ensure_ascii=False) + "\n")
    atomic.write_text(paths["report.md"], report_markdown(plain))
    return paths


def summary_lines(report: dict) -> list[str]:
    """The headline figures for the terminal, each with its floor."""
    c2st = report["two_sample_test"]
    gen, real = report["copying"]["generated_vs_train"], report["copying"]["floor_real_vs_train"]
    return [
        f"two-sample classifier accuracy {_number(c2st['generated_vs_real']['accuracy'])} (floor {_number(c2st['floor_train_vs_real']['accuracy'])}; 0.5 = indistinguishable)",
        f"diversity {_number(report['diversity']['generated'])} (real {_number(report['diversity']['real'])})",
        f"near copies of training windows {gen['near_copies']} of {report['counts']['generated']} (floor {real['near_copies']} of {report['counts']['real']}); max nearest IoU {_number(gen['max'])} (floor {_number(real['max'])})",
    ]
