"""Latent-space analysis (placeholder: being written)."""
import numpy as np


def radii(z):
    return np.linalg.norm(np.asarray(z, dtype=np.float64), axis=1)


def histogram_peak(r, bin_width=0.5):
    r = np.asarray(r)
    counts, edges = np.histogram(r, bins=np.arange(0, r.max() + bin_width, bin_width))
    i = int(np.argmax(counts))
    return float(edges[i] + bin_width / 2)
