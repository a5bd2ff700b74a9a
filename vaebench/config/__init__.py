"""Specs and scales: frozen dataclasses that say what to train (:mod:`.specs`), the named
scales that choose them and the posts' setting (:mod:`.scales`), and the
``--vaebench-data`` option (:mod:`.dataopt`).

Layer 1: imports only the foundation (errors, backend)."""
from vaebench.config.dataopt import DATA_ENV, parse_data, with_data  # noqa: F401
from vaebench.config.scales import (  # noqa: F401
    SCALES,
    Scale,
    budget,
    check_budget,
    get_scale,
    posts_setting,
    with_budget,
)
from vaebench.config.specs import (  # noqa: F401
    ACTIVATIONS,
    ARCHITECTURE_NAME,
    DATA_SOURCES,
    DEFAULT_ARCHITECTURE,
    MODEL_KINDS,
    POSTS_CONV_FIELDS,
    POSTS_PIXELS,
    PRECISIONS,
    DataSpec,
    ModelSpec,
    TrainSpec,
    canonical_json,
    check_architecture_name,
    check_count,
    check_image_size,
    check_precision,
    model_spec_from_record,
    recorded_model_spec,
    spec_from_dict,
    spec_hash,
    spec_to_dict,
)
