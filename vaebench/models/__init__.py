"""Models: the posts' convolutional AE and VAE (:mod:`.vae`) and the architecture registry
(:mod:`.registry`) through which a user brings encoders and decoders of their own, and its
public check (:mod:`.check`: the contract and a decoder output in [0, 1]).

Layer 5: imports config and the foundation."""
from vaebench.models.check import check_architecture, check_output_range  # noqa: F401
from vaebench.models.posts_conv import build_decoder, build_encoder  # noqa: F401
from vaebench.models.registry import Architecture, get_architecture, names, register_architecture  # noqa: F401
from vaebench.models.vae import (  # noqa: F401
                                 AE,
                                 EPS_TAIL_LEVEL,
                                 VAE,
                                 Sampling,
                                 build_model,
                                 count_params,
                                 decode,
                                 encode,
                                 kl_divergence,
                                 parameter_counts,
                                 reconstruction_loss,
                                 to_unit,
)
