"""``pianogan export``: write a generator's NumPy export, so it runs without TensorFlow."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Export a saved generator (.keras) to NumPy: MODEL.npz beside it (or -o), holding its layer
graph and weights. `pianogan generate`, `pianogan serve` and pianogan.load_generator()
then run the model with NumPy alone, without importing TensorFlow, whenever the export
sits beside the model and was made from that very file (its SHA-256 is recorded). The
export is checked against Keras on random latents before it is written. A model with a
layer the NumPy runner does not implement is refused with the layer's name; it keeps
running with Keras.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export a generator to NumPy (runs without TensorFlow)", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("model", type=Path, nargs="?", metavar="MODEL", help="generator .keras file (default: $PIANOGAN_MODEL or the shipped one)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write the export (default: MODEL with .npz)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.models import portable, sampling

    model = args.model or sampling.default_model_path()
    out = portable.export(model, args.output)
    print(f"exported {model} to {out} ({out.stat().st_size / 1e6:.1f} MB); it runs with NumPy alone")
    return 0
