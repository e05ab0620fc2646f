"""``pianogan evaluate``: how close generated rolls come to real music, beside the real floor."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Compare generated piano rolls with a real split of a prepared dataset: per-window
metrics (MGEval overlap and KL), a classifier two-sample test (0.5 = indistinguishable)
and its accuracy on each feature group alone, k-NN precision, recall, density and
coverage, diversity, and copying of training windows (nearest IoU with transposition).
Every figure is measured against all real windows of the split and against its
training-like ones (music across --min-span of the width, as the trainer keeps), each
beside its floor: training windows of the same kind measured against the same real
windows. DIR gets report.json, report.md, histograms.png and rolls.png.
"""


MAX_N = 10_000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="compare generated rolls with real ones (metrics, classifier test, copying)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, metavar="PATH", help="generator .keras file to sample from")
    source.add_argument("--generated", type=Path, metavar="DIR", help="folder of roll PNGs or MIDI files (cut into windows)")
    p.add_argument("--real", type=Path, required=True, metavar="DATASET", help="prepared dataset folder (pianogan prepare)")
    p.add_argument("--split", default="test", help="real split to compare with (default: test)")
    p.add_argument("--train-split", default="train", help="split the generator learnt from: the floor and the copy check (default: train)")
    p.add_argument("--n", type=int, default=1000, help="generated pieces to sample, and at most this many generated and real windows (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents and of every sample drawn (default: 0)")
    p.add_argument("--threshold", type=float, default=0.5, help="with --model: a pixel sounds at this probability or above (default: 0.5)")
    p.add_argument(
        "--copy-sample",
        type=int,
        default=1000,
        metavar="N",
        help="training windows (a seeded sample) compared exactly for the nearest-IoU figures; near copies are screened against all (default: 1000)",
    )
    p.add_argument(
        "--min-span",
        type=float,
        default=0.9,
        metavar="SHARE",
        help="training-like windows have music across at least this share of their width; match train's --min-span (default: 0.9)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.errors import PianoganError
    from pianogan.evaluation import evaluate

    if not 10 <= args.n <= MAX_N:
        raise PianoganError(f"--n must be 10..{MAX_N:,} (the two-sample test uses 5 folds; {MAX_N:,} windows take about 300 MB), got {args.n}")
    if args.seed < 0:
        raise PianoganError(f"--seed must be 0 or more, got {args.seed}")
    if not 0.0 < args.threshold <= 1.0:
        raise PianoganError(f"--threshold must be in (0, 1], got {args.threshold}")
    if not 0.0 <= args.min_span <= 1.0:
        raise PianoganError(f"--min-span must be in [0, 1], got {args.min_span}")
    if args.copy_sample < 0:
        raise PianoganError(f"--copy-sample must be 0 or more, got {args.copy_sample}")
    if args.generated is not None and args.output.resolve().is_relative_to(args.generated.resolve()):
        raise PianoganError(f"{args.output}: lies inside --generated {args.generated}, whose rolls it would mix with its pictures; choose another -o")
    evaluate.output_folder(args.output)  # a folder that cannot be written fails now, not after the evaluation

    real, real_groups = evaluate.load_real(args.real, args.split)
    train, train_groups = evaluate.load_real(args.real, args.train_split)
    real, real_groups = evaluate.subsample(real, real_groups, args.n, args.seed)
    skipped: list[str] = []
    decided = None
    if args.model is not None:
        generated, decided, moved = evaluate.sample_model(args.model, args.n, seed=args.seed, threshold=args.threshold)
        generated_groups = None
        in_keys = ", each window moved to a key drawn from the training data's, as generate moves pieces" if moved else ""
        source = f"{args.model} (seed {args.seed}, threshold {args.threshold}{in_keys})"
    else:
        generated, generated_groups, names, skipped = evaluate.load_generated_folder(args.generated, columns=real.shape[2])
        generated, generated_groups = evaluate.subsample(generated, generated_groups, args.n, args.seed)
        source = f"{args.generated} ({len(names)} files)"
        for line in skipped:
            print(f"pianogan evaluate: skipped {line}", file=sys.stderr)
    if generated.shape[1:] != real.shape[1:]:
        raise PianoganError(f"{args.model or args.generated}: generated windows are {generated.shape[1:]}, real ones {real.shape[1:]}")
    if min(len(generated), len(real)) < 5:
        raise PianoganError(f"need at least 5 generated and 5 real windows, got {len(generated)} and {len(real)}")

    result = evaluate.evaluate(
        generated, real, train, generated_groups, real_groups, train_groups, seed=args.seed, copy_sample=args.copy_sample, min_span=args.min_span
    )
    result.report["source"] = {
        "generated": source,
        "real": f"{args.real} split {args.split}",
        "train": f"{args.real} split {args.train_split}",
        "skipped": skipped,
    }
    if decided is not None:
        result.report["decidedness"] = decided
    paths = evaluate.write_outputs(result, generated, real, args.output, seed=args.seed)
    for line in evaluate.summary_lines(result.report):
        print(line)
    print(f"wrote {paths['report.md']} and {paths['report.json']}")
    return 0
