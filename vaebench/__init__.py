"""vaebench: executable hypotheses about autoencoders and VAEs."""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter out of reports

__version__ = "0.1.0"
