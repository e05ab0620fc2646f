"""How drawing each piece's key moves where it sits on the keyboard, measured on real windows.

A key-normalised generator writes in C major / A minor, and ``generate`` moves each piece to
a drawn key. A generator as good as the data writes what training saw: real windows moved to
C the nearer way. This takes the validation windows of a dataset, moves each to C so, draws
keys for them as ``generate`` does (from the training windows' key shares alone, and weighed
by register, ``keys.key_registers``) and moves them there. It prints, for the windows as
they are, moved to C and after each draw, the mean and spread of their lowest pitch, the
spread of their mean pitch, and the classifier two-sample test on the evaluation's "pitch
and register" features against the windows of the other half of the songs as they are
(0.5: the draw put them where real windows sit).

    .venv/bin/python benchmarks/key_registers.py data/pop909
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pianogan.data import datasets
from pianogan.evaluation.compare import CLASSIFIER_FEATURES, FEATURE_GROUPS, classifier_features, two_sample_test
from pianogan.evaluation.evaluate import load_real
from pianogan.music import keys
from pianogan.roll import LOWEST_PITCH, music_span, transpose_on_piano
from pianogan.training.train import key_distribution, key_normalising_shifts


def key_normalised(windows: np.ndarray) -> np.ndarray:
    """Each window moved to C major / A minor the nearer way, kept on the piano, as training moves it."""
    shifts = key_normalising_shifts(windows, keys.estimate_keys(windows))
    return np.stack([transpose_on_piano(w, int(s)) for w, s in zip(windows, shifts)])


def moved_to_drawn_keys(windows: np.ndarray, shares: list[float], registers: dict | None, seed: int) -> np.ndarray:
    chosen = keys.choose_keys(None, [(seed, k) for k in range(len(windows))], shares, list(windows), registers)
    return np.stack([transpose_on_piano(w, keys.transposition_to_key(w, k)) for w, k in zip(windows, chosen)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="dataset folder made by 'pianogan prepare', with train and validation splits")
    parser.add_argument("--min-span", type=float, default=0.5, help="windows learnt from: music across at least this share (default 0.5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = datasets.load_split(args.dataset, "train")
    train = train[music_span(train) >= args.min_span]
    train_keys = keys.estimate_keys(train)
    shares, registers = key_distribution(train_keys), keys.key_registers(train, train_keys)
    real, songs = load_real(args.dataset, "validation")
    kept = music_span(real) >= args.min_span
    real, songs = real[kept], (np.arange(len(real)) if songs is None else songs)[kept]
    # Half the songs are the reference, the other half is moved: the same window on both
    # sides would let the classifier pair them up.
    moved_half = np.isin(songs, np.unique(songs)[1::2])
    reference, windows = real[~moved_half], real[moved_half]
    normalised = key_normalised(windows)
    columns = [CLASSIFIER_FEATURES.index(name) for name in FEATURE_GROUPS["pitch and register"]]
    x_reference = classifier_features(reference)[:, columns]

    print(f"{len(windows)} validation windows against {len(reference)} of other songs; keys drawn from {len(train)} training windows' (seed {args.seed})")
    print("| windows | lowest pitch: mean | spread | mean pitch: spread | classifier on pitch and register |")
    print("|---|---:|---:|---:|---:|")
    sets = {
        "as they are": windows,
        "moved to C": normalised,
        "moved to keys drawn by shares": moved_to_drawn_keys(normalised, shares, None, args.seed),
        "moved to keys drawn by shares and register": moved_to_drawn_keys(normalised, shares, registers, args.seed),
    }
    for name, moved in sets.items():
        register = keys.register(moved) + LOWEST_PITCH
        accuracy = two_sample_test(x_reference, classifier_features(moved)[:, columns], songs[~moved_half], songs[moved_half], seed=args.seed)["accuracy"]
        lowest, mean = register[:, 0], register[:, 1]
        print(f"| {name} | {np.nanmean(lowest):.1f} | {np.nanstd(lowest):.1f} | {np.nanstd(mean):.1f} | {accuracy:.3f} |")


if __name__ == "__main__":
    main()
