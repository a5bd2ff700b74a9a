"""The claim simulator, for the planted-input tests of claim decisions (tests/test_claim_*.py):
it lives in the package as :mod:`vaebench.claims.simulate`; this name is kept for them."""
from vaebench.claims.simulate import *  # noqa: F401,F403
from vaebench.claims.simulate import HYPOTHESES  # noqa: F401
