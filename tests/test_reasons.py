"""Reasons in few words (vaebench.report.reasons): per-model reasons grouped by kind with
their numbers as ranges, text wrapped between words."""
from vaebench.report.reasons import group_reasons, wrap

THREE = ("precondition failed: ae z=256 seed=0: not converged: probe radius rising 3.2% per epoch (limit 2%) over "
         "the last 3 epochs; ae z=256 seed=1: not converged: probe radius rising 4.3% per epoch (limit 2%) over the "
         "last 3 epochs; ae z=256 seed=2: not converged: probe radius rising 3.9% per epoch (limit 2%) over the last "
         "3 epochs")


def test_reasons_of_several_models_are_grouped_with_ranges():
    assert group_reasons(THREE) == ("precondition failed: 3 models: not converged (probe radius rising 3.2–4.3% per "
                                    "epoch (limit 2%) over the last 3 epochs)")


def test_kinds_stay_apart_and_a_lone_model_keeps_its_label():
    reason = ("vae z=8 seed=0: posterior collapse: 1 active unit of 8; ae z=8 seed=0: not converged: loss falling; "
              "ae z=8 seed=1: not converged: loss falling; mean logvar falling 0.30 nat per epoch")
    assert group_reasons(reason) == ("vae z=8 seed=0: posterior collapse (1 active unit of 8); 2 models: not "
                                     "converged (loss falling; mean logvar falling 0.30 nat per epoch)")


def test_a_reason_naming_no_model_is_kept():
    assert group_reasons("1.50 [1.40, 1.60] lies entirely outside [0.9, 1.1]") == \
        "1.50 [1.40, 1.60] lies entirely outside [0.9, 1.1]"
    assert group_reasons("") == ""


def test_wrap_breaks_between_words_only():
    lines = wrap("alpha beta gamma-delta epsilon " + "x" * 30, 20, "  ")
    assert lines == ["alpha beta", "  gamma-delta", "  epsilon", "  " + "x" * 30]
    assert all(word in " ".join(lines).split() for word in ("alpha", "gamma-delta", "x" * 30))


def test_the_default_preconditions_wording_is_grouped_and_the_interval_kept():
    reason = ("precondition failed: the models this test loaded: mlp ae z=8 seed=0: convergence unknown (only 2 "
              "epochs: too few to judge convergence); mlp ae z=8 seed=1: convergence unknown (only 2 epochs: too few "
              "to judge convergence) (the interval alone: 3.9 [3.1, 4.7] (97.5% t over runs) lies entirely above 1)")
    assert group_reasons(reason) == (
        "precondition failed: the models this test loaded: 2 models: convergence unknown (only 2 epochs: too few to "
        "judge convergence) (the interval alone: 3.9 [3.1, 4.7] (97.5% t over runs) lies entirely above 1)")


def test_a_model_with_several_flags_is_one_item():
    reason = ("vae z=32 seed=0: convergence unknown, collapsed (only 2 epochs; 0 of 32 active units); "
              "vae z=32 seed=1: convergence unknown, collapsed (only 2 epochs; 1 of 32 active units)")
    assert group_reasons(reason) == ("2 models: convergence unknown, collapsed (only 2 epochs; 0–1 of 32 active "
                                     "units)")
