"""pianogan: compose piano music with a GAN trained on piano-roll images.

The public API, loaded lazily so that ``import pianogan`` and ``pianogan --help`` stay
light (no TensorFlow, no NumPy work at import):

    import pianogan
    g = pianogan.load_generator()        # the shipped generator (or $PIANOGAN_MODEL, or a path)
    piece = g.sample(1, seed=3)[0]       # a pianogan.Piece: roll, latent, key, tempo
    piece.to_midi("piece.mid"); piece.in_key("D minor").at_bpm(90).to_wav("piece.wav")
    piece                                # in Jupyter: the roll and an audio player

See ``pianogan.api.Generator`` for ``piece``, ``interpolate``, ``variations`` and ``invert``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["Found", "Generator", "Piece", "__version__", "load_generator"]

_LAZY = {"load_generator": "pianogan.api", "Generator": "pianogan.api", "Found": "pianogan.api", "Piece": "pianogan.compose.piece"}


def __getattr__(name: str):
    """Import an API name's module on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pianogan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
