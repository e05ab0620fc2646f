"""The networks and what samples them: architectures, the GAN with its losses and
augmentation, sampling, saving with facts, and the NumPy runtime for export."""
