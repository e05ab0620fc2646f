"""pianogan: compose piano music with a GAN trained on piano-roll images."""

__version__ = "0.1.0"
