"""vaebench.claims.record: a statistic given as a plain number is exact only when it is."""
import numpy as np

from vaebench.claims.record import Claim, ClaimRecorder
from vaebench.stats import SubClaim

CLAIM = Claim(id="X1", title="t", quote="q", source="s", subclaims=(SubClaim("X1a", "a", primary="p"),))


def test_a_float_is_a_value_without_interval_and_a_count_is_exact():
    rec = ClaimRecorder(CLAIM)
    rec.statistic("mean over runs", 0.29)
    rec.statistic("images", 1437)
    rec.statistic("images (numpy)", np.int64(12))
    rec.statistic("an exact ratio", 0.5, exact=True)
    methods = {s["name"]: s["estimate"]["method"] for s in rec.statistics}
    assert methods == {"mean over runs": "no interval", "images": "exact", "images (numpy)": "exact",
                       "an exact ratio": "exact"}
    assert rec.statistics[0]["estimate_text"] == "0.29 [0.29, 0.29] (100% no interval)"
