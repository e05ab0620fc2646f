"""``pianogan img2midi``: piano-roll PNG images to MIDI files."""

from __future__ import annotations

import argparse
import sys
import textwrap

from pianogan.cli import message
from pianogan.constants import DEFAULT_VELOCITY
from pianogan.errors import PianoganError
from pianogan.io.inputs import CLASH_RULE, PNG_SUFFIXES, batch_inputs
from pianogan.io.outputs import Outputs

DESCRIPTION = """\
Convert piano-roll PNG images (106 pixels high, any width) into MIDI files DIR/<stem>.mid.

Row 0 at the top of the image is pitch 21 (A0), row r is pitch 21 + r. Each horizontal
run of lit pixels becomes one note starting at column/4 quarter notes and lasting
run/4 quarter notes, on one piano track (program 0) at --bpm quarter notes per minute
(120 by default, where a column is 0.125 s).
Grayscale, RGB and RGBA images, 8 or 16 bit, are accepted.
"""

EPILOG = """\
Unreadable images and images of another height are skipped, each named on stderr with
the reason; the exit status is 0 when at least one image was converted and 2 when none
was. Output names: {rule}.
"""


def int_between(low: int, high: int):
    """An argparse type for an integer in ``low..high``."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}, got {value}")
        return value

    return parse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "img2midi",
        help="convert piano-roll PNG images into MIDI files",
        description=DESCRIPTION,
        epilog=textwrap.fill(EPILOG.format(rule=CLASH_RULE), width=88, break_on_hyphens=False),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="PNG files, or folders searched recursively for .png (any case)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the MIDI files (created if missing)")
    p.add_argument(
        "--velocity", type=int_between(1, 127), default=DEFAULT_VELOCITY, metavar="V", help=f"velocity of every note, 1..127 (default {DEFAULT_VELOCITY})"
    )
    p.add_argument(
        "--threshold",
        type=int_between(1, 255),
        default=128,
        metavar="T",
        help="a pixel is a sounding note when its value is at least T on the 0..255 scale (default 128, half scale; 16-bit images are compared at the same fraction of 65535)",
    )
    p.add_argument("--bpm", type=float, default=120.0, metavar="BPM", help="tempo of the MIDI files, quarter notes per minute (default 120)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pianogan.io.midi import check_qpm, roll_notes, write_midi
    from pianogan.io.png import read_png

    check_qpm(args.bpm)
    out_dir, files, stems, missing = batch_inputs(args.inputs, PNG_SUFFIXES, args.output, ".png")
    outputs = Outputs.at(out_dir, inputs=files).create()
    names = {path: f"{stems[path]}.mid" for path in files}
    refused = {path: problem for path in files if (problem := outputs.problem(names[path]))}
    # T on the 0..255 scale lies between the 8-bit values T-1 and T, i.e. (T - 0.5) / 255 of
    # full scale: exactly ``value >= T`` for 8-bit images and the same cut for 16-bit ones.
    threshold = (args.threshold - 0.5) / 255
    converted = notes = silent = 0
    bad = len(missing)
    with outputs.writing([names[path] for path in files if path not in refused], "img2midi"):
        for path in tqdm(files, desc="img2midi", unit="file", file=sys.stderr, disable=None):
            try:
                if path in refused:
                    raise PianoganError(refused[path])
                roll = read_png(path, threshold)
                write_midi(roll, out_dir / names[path], velocity=args.velocity, qpm=args.bpm)
            except PianoganError as error:
                bad += 1
                tqdm.write(f"skipped {message(error)}", file=sys.stderr)
                continue
            converted += 1
            count = len(roll_notes(roll)[0])
            notes += count
            silent += count == 0
    outputs.report()
    print(f"img2midi: {converted} files converted, {bad} bad; {converted} MIDI files written to {out_dir} with {notes} notes ({silent} without notes)")
    if not converted:
        raise PianoganError(f"none of the {len(files) + len(missing)} inputs could be converted (reasons above)")
    return 0
