"""``pianogan plot``: a picture of a piano roll (a roll PNG or a whole MIDI file) for people."""

from __future__ import annotations

import argparse
from pathlib import Path

from pianogan.errors import PianoganError
from pianogan.io.inputs import MIDI_SUFFIXES
from pianogan.io.outputs import Outputs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plot",
        help="draw a roll PNG or a MIDI file as a piano-roll picture",
        description=(
            "Draw a piano roll as people read one: high notes on top, time in seconds (bottom) "
            "and bars (top), octaves named (C4 = middle C). ROLL is a roll PNG (drawn at 120 BPM, "
            "0.125 s per column) or a MIDI file (its whole roll, timed by its first tempo)."
        ),
    )
    p.add_argument("roll", metavar="ROLL", help="a roll .png, or a .mid/.midi file")
    p.add_argument("-o", "--output", required=True, metavar="PICTURE", help="picture file; the format follows its extension (.png, .svg, .pdf, ...)")
    p.add_argument("--title", metavar="T", help="title above the picture (default: the input's file name)")
    p.add_argument("--pedal", action="store_true", help="for a MIDI file: hold notes while the sustain pedal is down")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from matplotlib.figure import Figure

    from pianogan.io.atomic import atomic_path, complete_png
    from pianogan.io.midi import read_midi
    from pianogan.io.png import read_png
    from pianogan.roll import SECONDS_PER_COLUMN_AT_120_BPM, plot_roll

    source, picture = Path(args.roll), Path(args.output)
    figure = Figure(layout="constrained")
    kind = picture.suffix.lower().lstrip(".")
    if kind not in figure.canvas.get_supported_filetypes():
        known = ", ".join(sorted(figure.canvas.get_supported_filetypes()))
        raise PianoganError(f"{picture}: unknown picture format {picture.suffix or '(no extension)'!r}; use one of {known}")
    outputs = Outputs.at(picture.parent, inputs=[source])
    outputs.check([picture.name])
    outputs.probe()
    if source.suffix.lower() in MIDI_SUFFIXES:
        roll, stats = read_midi(source, pedal=args.pedal)
        if roll.shape[1] == 0:
            raise PianoganError(f"{source}: no notes in the pitch range 21..126 to draw")
        seconds_per_column = stats.seconds_per_column
    else:
        roll = read_png(source)
        seconds_per_column = SECONDS_PER_COLUMN_AT_120_BPM
    figure.set_size_inches(min(24.0, max(6.0, 2 + roll.shape[1] / 40)), 4.5)
    plot_roll(roll, ax=figure.add_subplot(), seconds_per_column=seconds_per_column, title=args.title or source.name)
    with outputs.create().writing([picture.name], "plot"), atomic_path(picture, check=complete_png if kind == "png" else None) as tmp:
        figure.savefig(tmp, format=kind, dpi=120)
    outputs.report()
    print(f"plot: {source} ({roll.shape[1]} columns) drawn to {picture}")
    return 0
