"""``pianogan prepare``: MIDI files (or roll PNGs) -> a training dataset folder."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Convert SOURCE into a dataset folder OUT: one bit-packed OUT/<split>.npz per split
(train, validation, test), OUT/manifest.csv (one row per window: split, index, file,
window index k, start column, shift in ticks, estimated key, composer, title, year) and OUT/prepare_report.json (every input file,
converted or skipped with its reason).

SOURCE is a MAESTRO root (v2 or v3: its maestro-v*.csv/.json gives splits, composer,
title and year), any folder of MIDI files (searched recursively; every file is 'train'
unless --splits says otherwise) or a folder of roll PNGs (106 pixels high; wider images are
cut into windows, narrower ones padded). Files that cannot be read are skipped and named
in the report; the exit code is 0 when at least one file converted, 2 otherwise.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="turn MAESTRO, a MIDI folder or roll PNGs into a training dataset",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE", help="MAESTRO root, folder of MIDI files, or folder of roll PNGs")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="dataset folder to write (created if needed)")
    p.add_argument(
        "--splits",
        metavar="CSV",
        help="CSV with header 'file,split' (file: path relative to SOURCE or bare file name; split: train, "
        "validation or test; files not listed are left out), or 'pop909' for POP909's rule "
        "(song number divisible by 10: test, ending in 5: validation, else train)",
    )
    p.add_argument("--columns", type=int, default=300, metavar="N", help="window width in sixteenth-note columns (default 300)")
    p.add_argument("--pedal", action="store_true", help="hold notes while the sustain pedal is down (for performance MIDI such as MAESTRO)")
    p.add_argument(
        "--no-align",
        dest="align",
        action="store_false",
        help="keep each MIDI file's timing as it is; by default each piece is shifted by whole ticks so its sixteenth grid "
        "lies on the columns and every window starts on beat 1 of a bar (files without a steady grid are left as they are)",
    )
    p.add_argument("--png", action="store_true", help="also write every window as OUT/png/<split>/<stem>_<k>.png")
    p.add_argument(
        "--voices",
        action="store_true",
        help="also keep the voices apart (melody, bridge, accompaniment: POP909's MELODY, BRIDGE and PIANO tracks; the top voice is the melody of a file without a MELODY track), for --arch bars-voices",
    )
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default: all cores; 1 runs in-process)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.data.datasets import REPORT, prepare

    report = prepare(
        args.source, args.output, splits=args.splits, columns=args.columns, pedal=args.pedal, align=args.align, png=args.png, jobs=args.jobs, voices=args.voices
    )
    windows = ", ".join(f"{split} {count:,}" for split, count in report["windows"].items())
    print(
        f"prepared {report['files_converted']:,} of {report['files']:,} files ({report['source_kind']}) in "
        f"{report['seconds']:.1f} s: {report['notes']:,} notes, {report['notes_per_second']:,} notes/s"
    )
    print(f"windows: {windows} ({report['silent_windows_skipped']:,} silent windows skipped)")
    if report["voices"]:
        voices = report["voices"]
        print(f"voices: melody from a MELODY track in {voices['melody_from_tracks']:,} files, the top voice in {voices['melody_from_top_voice']:,}")
    if report["align"] and report["files_without_steady_grid"]:
        print(f"left unaligned for want of a steady grid: {len(report['files_without_steady_grid']):,} files (listed in {args.output}/{REPORT})")
    skipped = report["files_failed"] + report["files_unlisted"]
    if skipped:
        print(f"skipped {report['files_failed']:,} unreadable or empty files and {report['files_unlisted']:,} without a split: see {args.output}/{REPORT}")
    return 0
