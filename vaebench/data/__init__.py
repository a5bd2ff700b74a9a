"""Data: a :class:`~vaebench.config.DataSpec` in, ``(train, test)`` images out
(:mod:`.load`), from the embedded synthetic faces (:mod:`.synthetic`), CelebA or any image
folder (:mod:`.readers`), through the decoded-image cache (:mod:`.cache`) into an
:class:`~vaebench.data.imageset.ImageSet` whose content fingerprint (:mod:`.fingerprint`)
is the data part of every store key.

Layer 4: imports config and the foundation."""
from vaebench.data.load import *  # noqa: F401,F403
from vaebench.data.load import __all__ as _load_all

__all__ = list(_load_all)
