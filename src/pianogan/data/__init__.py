"""Datasets: ``prepare``'s windows, splits and manifests, training batches, and small
example pieces made by code."""
