"""``pianogan midi2wav``: render MIDI files to WAV with FluidSynth or the pip fallback."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Render MIDI files to 16-bit stereo WAV files named DIR/<name>.wav: the piece plus its
release tail (at most 2 s, cut where it has faded), peak normalised to -1 dBFS.
FluidSynth renders when installed (apt-get install fluidsynth fluid-soundfont-gm), loading
the SoundFont once for all files; otherwise TinySoundFont from pip does, with the
TimGM6mb SoundFont shipped in pretty_midi. A bad file is reported and skipped; the exit
code is 0 if at least one file was rendered, else 2."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "midi2wav",
        help="render MIDI files to WAV audio",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="MIDI files or folders (searched for .mid/.midi)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the WAV files")
    p.add_argument(
        "--soundfont",
        metavar="SF2",
        help="SoundFont file (default: $PIANOGAN_SOUNDFONT, then Debian's FluidR3_GM.sf2 or default-GM.sf2, then TimGM6mb.sf2 from pretty_midi)",
    )
    p.add_argument("--rate", type=int, default=44100, help="sample rate in Hz (default: 44100)")
    p.add_argument(
        "--renderer",
        choices=("auto", "fluidsynth", "fallback"),
        default="auto",
        help="auto: fluidsynth when installed, else fallback (TinySoundFont) (default: auto)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.io import audio
    from pianogan.io.outputs import Outputs

    renderer = audio.choose_renderer(args.renderer)
    font = audio.find_soundfont(args.soundfont)
    audio.check_rate(args.rate)
    files, _ = audio.midi_files(args.inputs)
    outputs = Outputs.at(args.output, inputs=files)
    names = [f"{path.stem}.wav" for path in files]
    outputs.check(names)
    with outputs.create().writing(names, "midi2wav"):
        results = audio.render_many(args.inputs, args.output, font, args.rate, renderer)
    outputs.report()
    for result in results:
        if result.error:
            print(f"pianogan midi2wav: error: {result.error}", file=sys.stderr)
    done = sum(result.error is None for result in results)
    failed = len(results) - done
    noun = "file" if done == 1 else "files"
    print(f"rendered {done} {noun} with {renderer} ({font.name}) into {args.output}" + (f"; {failed} failed" if failed else ""))
    return 0 if done else 2
