"""What the notes say: key and metric-grid estimates from rolls and note lists. Pure NumPy
and no files, so the I/O layer can align pieces as it reads them."""
