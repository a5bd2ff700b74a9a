"""The latent-analysis namespace claim modules use: ``from vaebench import latent``.

It gathers :mod:`vaebench.latent.geometry` (radii, axes, PCA, intrinsic dimension, the Gaussian
null and voids, clustering, t-SNE) and :mod:`vaebench.latent.quality` (decoded-image quality:
the conformal :class:`QualityScorer` and its spectral features). Nothing here renders.
"""
from __future__ import annotations

from vaebench.latent.geometry import *  # noqa: F401,F403
from vaebench.latent.geometry import __all__ as _geometry_all
from vaebench.latent.quality import *  # noqa: F401,F403
from vaebench.latent.quality import __all__ as _quality_all

__all__ = [*_geometry_all, *_quality_all]
