"""How close generated music is to real music: per-window metrics, distribution
comparisons, the evaluation report and the near-copy check."""
