"""The noise-floor lines (ohgw.analysis.trust.floor_lines): a comparison that has an A/A control says so
even where the floor cannot be measured (the baseline's median censored), and one without says it has none."""
import math

import pandas as pd

from ohgw.analysis.trust import floor_lines


def row(n_floor_pairs, floor):
    u = "epochs"
    return {"task": "lm+token_noise=0.15", "scheduler": "pasha", "warmstart": "ohgw", "eta_h": 1e-3, "role": "treatment",
            "n_pairs": 10, f"reduction_{u}": math.nan, f"reduction_{u}_low": -math.inf, f"reduction_{u}_high": 0.0,
            "n_floor_pairs": n_floor_pairs, f"floor_{u}": floor, f"floor_{u}_low": -math.inf, f"floor_{u}_high": 0.0,
            f"vs_floor_{u}": math.nan, f"vs_floor_{u}_low": -math.inf, f"vs_floor_{u}_high": 0.0, f"p_vs_floor_{u}": 1.0,
            f"p_bonf_vs_floor_{u}": 1.0, f"floor_verdict_{u}": "within the floor", f"spread_{u}": 0.08,
            f"n_reached_pairs_{u}": 5, f"seeds_needed_{u}": 7}


def test_a_censored_floor_is_reported_as_not_measurable_not_as_missing():
    censored = floor_lines(pd.DataFrame([row(10, math.nan)]), pd.DataFrame(), "epochs")[0]
    assert "the A/A floor over the same seeds: n/a [-inf, +0.0%]" in censored
    assert censored.endswith("p = 1 (Bonferroni 1): WITHIN THE FLOOR")
    missing = floor_lines(pd.DataFrame([row(math.nan, math.nan)]), pd.DataFrame(), "epochs")[0]
    assert missing.endswith("no A/A control in this comparison: no noise floor")
