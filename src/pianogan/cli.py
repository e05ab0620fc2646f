"""``pianogan`` command line: discovers the sub-commands and turns user errors into one line.

The library names parameters (``n must be at least 1``); the command line shows them as
its flags (``--n must be at least 1``): ``--`` and the name with dashes, or the flag that
``FLAGS`` gives where the two differ.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from pianogan import __version__, commands
from pianogan.errors import PianoganError
from pianogan.interrupt import terminate_as_interrupt

# Library parameters whose command-line flag is not ``--`` and the name with dashes.
FLAGS = {"qpm": "--bpm", "out": "-o", "output": "-o", "out_dir": "-o"}


def flag(parameter: str) -> str:
    """The command-line flag of a library parameter: ``n`` -> ``--n``, ``qpm`` -> ``--bpm``."""
    return FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


def message(error: PianoganError) -> str:
    """The one-line message of ``error`` as the command line says it, parameters as flags."""
    return error.worded(flag)


def _command_modules() -> list[str]:
    found = {m.name for m in pkgutil.iter_modules(commands.__path__)}
    ordered = [name for name in commands.ORDER if name in found]
    return ordered + sorted(found - set(ordered))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pianogan",
        description="Compose piano music with a GAN on 106x300 piano-roll images.",
    )
    parser.add_argument("--version", action="version", version=f"pianogan {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _command_modules():
        importlib.import_module(f"pianogan.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_as_interrupt():
            return int(args.run(args) or 0)
    except PianoganError as error:
        print(f"pianogan {args.command}: error: {message(error)}", file=sys.stderr)
        return 2
    except OSError as error:  # a file system problem no check foresaw: still one line, naming the file
        where = f"{error.filename}: " if error.filename else ""
        print(f"pianogan {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pianogan {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
