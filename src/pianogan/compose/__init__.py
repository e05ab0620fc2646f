"""Pieces from a generator: latent paths, joined windows, keys, the ``Piece`` type,
inversion of someone's music, and the files and pages ``generate`` writes."""
