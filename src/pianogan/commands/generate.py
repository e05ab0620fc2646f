"""``pianogan generate``: sample pieces from a trained generator, with MIDI, audio and a page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pianogan.cli import message
from pianogan.constants import DEFAULT_VELOCITY
from pianogan.errors import PianoganError

DESCRIPTION = """\
Sample piano pieces from a trained generator. For each piece DIR gets NAME.png (the
roll), NAME.mid, NAME.wav (unless --no-audio) and NAME_roll.webp (a picture); plus
pieces.json (settings, latents, figures) and index.html, a listening page that works
offline. The same model, seed and options always give the same files. Lengths above
one window (300 columns = 37.5 s at 120 BPM) join windows along a smooth latent path.
The model runs with NumPy when its export (`pianogan export`) is beside it, else Keras.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="sample pieces (PNG, MIDI, WAV) and a listening page",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, metavar="PATH", help="generator .keras file (default: $PIANOGAN_MODEL or models/generator.keras)")
    p.add_argument("--n", type=int, default=4, help="number of pieces (default: 4)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed of the latents (default: 0)")
    p.add_argument("--length", type=int, metavar="COLUMNS", help="columns per piece, 8 per second (default: one window, 300)")
    p.add_argument("--threshold", type=float, default=0.5, metavar="T", help="a pixel sounds at this probability or above; lower is denser (default: 0.5)")
    p.add_argument(
        "--interpolate",
        type=int,
        nargs=2,
        metavar=("SEED_A", "SEED_B"),
        help="n pieces stepping from seed A's first piece to seed B's (replaces --seed)",
    )
    p.add_argument(
        "--key",
        metavar="KEY",
        help="move every piece to this key, e.g. 'A minor' or 'Eb major'; 'any' draws a key per piece, each of the 24 alike "
        "(default: keys drawn like the training data's, each weighed by how well the piece's register fits the key, for a model "
        "trained with --key-mode normalise; otherwise as generated)",
    )
    p.add_argument("--bpm", type=float, default=120.0, metavar="BPM", help="tempo of the MIDI and audio, quarter notes per minute (default: 120)")
    p.add_argument(
        "--training", type=Path, metavar="DATASET",
        help="prepared dataset (pianogan prepare) whose train split each piece is compared with: its nearest window goes into "
        "pieces.json and the page (default: the model's own training set when its file names one that is at hand)",
    )  # fmt: skip
    p.add_argument("--no-audio", action="store_true", help="skip the WAV files")
    p.add_argument("--velocity", type=int, default=DEFAULT_VELOCITY, metavar="1-127", help=f"MIDI velocity of every note (default: {DEFAULT_VELOCITY})")
    p.add_argument("--soundfont", type=Path, metavar="SF2", help="SoundFont for the audio (default: as `pianogan midi2wav`)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder (other files in it are kept)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan import api
    from pianogan.compose import generate
    from pianogan.music.keys import parse_key

    for seed in args.interpolate or (args.seed,):
        generate.check_options(args.n, seed, args.length, args.threshold, args.velocity, bool(args.interpolate), args.bpm)
    if args.key is not None and args.key.strip().lower() != "any":
        parse_key(args.key)  # a misspelt key stops us before any work
    generate.check_output_dir(args.output, args.n, not args.no_audio)
    if not args.no_audio:  # a missing renderer or SoundFont should stop us before any work
        from pianogan.io import audio

        try:
            audio.choose_renderer()
            audio.find_soundfont(args.soundfont)
        except PianoganError as error:
            raise PianoganError(f"{message(error)} (or pass --no-audio)") from None
    generator = api.load_generator(args.model, training=args.training)
    print(f"generator: {generator.path} ({generator.runtime})", file=sys.stderr)
    length = args.length or generator.width
    options = {"length": length, "threshold": args.threshold, "key": args.key, "bpm": args.bpm}
    if args.interpolate:
        pieces = generator.interpolate(*args.interpolate, n=args.n, **options)
    else:
        pieces = generator.sample(n=args.n, seed=args.seed, progress=True, **options)
    settings = generate.run_settings(
        generator.path, args.seed, args.n, length, args.threshold, args.velocity, args.interpolate, not args.no_audio, args.key, args.bpm
    )
    nearest = generator.nearest_training(pieces)
    _, problems = generate.write_pieces(pieces, args.output, settings, soundfont=args.soundfont, progress=True, nearest=nearest)
    for problem in problems:
        print(f"pianogan generate: {problem}", file=sys.stderr)
    print(f"wrote {len(pieces)} pieces to {args.output}; listen: {args.output / 'index.html'}")
    return 1 if problems else 0
