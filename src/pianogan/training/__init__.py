"""Training runs: options, the run folder, checkpoints and the log; the gradient step of
each backend lives in ``backends``."""
