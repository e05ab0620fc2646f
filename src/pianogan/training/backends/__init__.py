"""The training step's gradient code: the only backend-specific part of training."""
