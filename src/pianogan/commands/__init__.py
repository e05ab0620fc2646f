"""One module per ``pianogan`` sub-command.

Each module defines ``register(subparsers)``, which adds its parser and sets
``run=<callable(args) -> int>`` as a default. Modules import heavy libraries
(TensorFlow, Keras, matplotlib) inside ``run`` only, so ``pianogan --help`` stays fast.
"""

ORDER = ["midi2img", "img2midi", "plot", "describe", "prepare", "info", "train", "generate", "evaluate", "midi2wav", "export", "serve"]
