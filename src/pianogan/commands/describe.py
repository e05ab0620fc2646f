"""``pianogan describe ROLL``: a piece bar by bar (chord, bass, melody) as text."""

from __future__ import annotations

import argparse
from pathlib import Path

from pianogan.io.inputs import MIDI_SUFFIXES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "describe",
        help="a piece bar by bar: chord, bass, melody, texture",
        description="Print a roll PNG or a MIDI file bar by bar, as a lead sheet reads: its key and register, then for "
        "each 4/4 bar the triad holding the most note time, the lowest note below C4 starting on each beat, how many notes start "
        "and how many sound at once, and the top voice (each note with its length in sixteenths).",
    )
    p.add_argument("roll", metavar="ROLL", help="a roll .png, or a .mid/.midi file")
    p.add_argument("--align", action="store_true", help="for a MIDI file: put its sixteenth grid and bars on the columns first (see midi2img --align)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.evaluation.describe import describe
    from pianogan.io.midi import read_midi
    from pianogan.io.png import read_png

    source = Path(args.roll)
    roll = read_midi(source, align=args.align)[0] if source.suffix.lower() in MIDI_SUFFIXES else read_png(source)
    print(describe(roll))
    return 0
