"""``pianogan midi2img``: MIDI files to piano-roll PNG windows.

Heavy work happens per file in ``convert_file``, which worker processes can run in
parallel; the main process only names outputs, reports and counts.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from pianogan.cli import message
from pianogan.errors import PianoganError
from pianogan.io.inputs import CLASH_RULE, MIDI_SUFFIXES, batch_inputs
from pianogan.io.outputs import Outputs

DESCRIPTION = """\
Convert MIDI files into piano-roll PNG images, one per window of COLUMNS sixteenth notes.

Each image is DIR/<stem>_<k>.png, where k is the window's index in the piece: window k
holds columns k*COLUMNS up to (k+1)*COLUMNS, so with the default width _3 always means
columns 900..1199 (with --align, windows start every whole number of bars instead). Silent windows are skipped (conversion goes on after them) and the
last, partial window is padded with silence. Images are 106 pixels high (row 0 at the
top = pitch 21, A0) and 8-bit grayscale, 255 where a note sounds.

A note from quarter note s to e lights columns round(4s) up to round(4e) on the file's
own beat grid (halves round up, at least one column), whatever its tempo. All tracks are
merged; drum tracks and pitches outside 21..126 are dropped and counted.
"""

EPILOG = """\
Unreadable files are skipped, each named on stderr with the reason; the exit status is 0
when at least one file was converted and 2 when none was. Output names: {rule}.
"""


def window_width(text: str) -> int:
    """An argparse type for a window width: 1 to ``roll.MAX_COLUMNS`` columns."""
    from pianogan.roll import MAX_COLUMNS

    value = int(text)
    if not 1 <= value <= MAX_COLUMNS:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_COLUMNS} columns, got {value}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "midi2img",
        help="convert MIDI files into piano-roll PNG windows",
        description=DESCRIPTION,
        epilog=textwrap.fill(EPILOG.format(rule=CLASH_RULE), width=88, break_on_hyphens=False),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="MIDI files, or folders searched recursively for .mid/.midi (any case)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the PNG images (created if missing)")
    p.add_argument("--columns", type=window_width, default=300, metavar="N", help="window width in columns (sixteenth notes; default 300 = 37.5 s at 120 BPM)")
    p.add_argument("--pedal", action="store_true", help="hold notes while the sustain pedal is down (until it is released or the same key is struck again)")
    p.add_argument(
        "--align",
        action="store_true",
        help="bar-align each piece first: shift it by whole ticks so its sixteenth grid lies on the columns and window 0 starts on beat 1; windows then start every whole number of bars (288 columns for 300 in 4/4)",
    )
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1; 0 = one per CPU core)")
    p.set_defaults(run=run)


@dataclass(frozen=True)
class FileResult:
    """What converting one file gave; ``problem`` is set when the file did not convert."""

    path: Path
    written: int = 0
    silent: int = 0
    dropped_out_of_range: int = 0
    dropped_drums: int = 0
    problem: str | None = None
    names: tuple[str, ...] = ()  # the images written, even when a later one failed


def group_of(stem: str) -> str:
    """The output group (see ``pianogan.io.outputs``) of one input's windows."""
    return f"midi2img:{stem}"


def convert_file(path: Path, outputs: Outputs, stem: str, columns: int, pedal: bool, align: bool = False) -> FileResult:
    """Write the non-silent windows of one MIDI file as ``<stem>_<k>.png`` in ``outputs``.

    Nothing is written unless every window may be (no file of that name that pianogan did
    not write); any failure, a bug included, is this file's problem, never the batch's.
    """
    from pianogan.io.midi import midi_to_windows
    from pianogan.io.png import write_png

    written: list[str] = []
    try:
        windows, total, stats, *_ = midi_to_windows(path, columns, pedal, align)
        if not windows:
            dropped = stats.dropped_drums + stats.dropped_out_of_range
            reason = (
                f"no notes in the pitch range 21..126 ({stats.dropped_drums} drum notes and {stats.dropped_out_of_range} out of range dropped)"
                if dropped
                else "no notes"
            )
            return FileResult(path, 0, total, stats.dropped_out_of_range, stats.dropped_drums, f"{path}: {reason}")
        names = [f"{stem}_{k}.png" for k, _ in windows]
        outputs.check(names)
        for name, (_, window) in zip(names, windows):
            write_png(window, outputs.folder / name)
            written.append(name)
    except PianoganError as error:
        return FileResult(path, problem=message(error), names=tuple(written))
    except Exception as error:  # a bad file must never stop the batch
        return FileResult(path, problem=f"{path}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no message'}", names=tuple(written))
    return FileResult(path, len(windows), total - len(windows), stats.dropped_out_of_range, stats.dropped_drums, names=tuple(written))


def _convert_task(task: tuple) -> FileResult:
    return convert_file(*task)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pianogan.workers import cores, ordered_map

    if args.jobs < 0:
        raise PianoganError(f"--jobs must be 0 (one per CPU core) or more, got {args.jobs}")
    out_dir, files, stems, missing = batch_inputs(args.inputs, MIDI_SUFFIXES, args.output, ".mid or .midi")
    outputs = Outputs.at(out_dir, inputs=files).create()
    narrowed = outputs.narrowed(group_of(stem) for stem in stems.values())
    tasks = [(path, narrowed[group_of(stems[path])], stems[path], args.columns, args.pedal, args.align) for path in files]
    converted = written = silent = out_of_range = drums = 0
    bad = len(missing)
    converted_groups: set[str] = set()
    unfinished = {stems[path] for path in files}
    with contextlib.ExitStack() as stack:
        stack.callback(_save, outputs, converted_groups, unfinished)  # also on Ctrl-C or kill: what was written stays listed
        results = stack.enter_context(ordered_map(_convert_task, len(tasks), args.jobs or cores()))(tasks)
        for task, result in zip(tasks, tqdm(results, total=len(tasks), desc="midi2img", unit="file", file=sys.stderr, disable=None)):
            outputs.claim(result.names, group_of(task[2]))
            unfinished.discard(task[2])
            written += result.written
            silent += result.silent
            out_of_range += result.dropped_out_of_range
            drums += result.dropped_drums
            if result.problem:
                bad += 1
                tqdm.write(f"skipped {result.problem}", file=sys.stderr)
            else:
                converted += 1
                converted_groups.add(group_of(task[2]))
    print(
        f"midi2img: {converted} files converted, {bad} bad; {written} windows written to {out_dir}, "
        f"{silent} silent windows skipped; notes dropped: {out_of_range} out of range, {drums} on drum tracks"
    )
    if not converted:
        raise PianoganError(f"none of the {len(files) + len(missing)} inputs could be converted (reasons above)")
    return 0


def _save(outputs: Outputs, converted_groups: set[str], unfinished: set[str]) -> None:
    """Remove the earlier windows of every converted input that this run did not write
    again (another --columns, say), list what was written (by inputs an interrupt cut
    short too), and say what was replaced."""
    for stem in unfinished:
        outputs.claim_new(rf"{re.escape(stem)}_\d+\.png", group_of(stem))
    removed = outputs.remove_stale(lambda group: group in converted_groups)
    outputs.save()
    outputs.report(removed)
