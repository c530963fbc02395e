"""The projection of scripts/training_curves.py: steps to a quality target from a measured curve."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "training_curves.py"
spec = importlib.util.spec_from_file_location("training_curves", SCRIPT)
curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(curves)


def test_a_log_linear_curve_is_solved_for_its_target():
    steps = np.array([1000, 2000, 4000, 8000])
    fit = curves.projected_steps(steps, 20.0 + 0.5 * np.log2(steps / 1000), target=22.0)
    assert math.isclose(fit["gain_per_doubling"], 0.5) and fit["points"] == 4
    assert math.isclose(fit["projected_steps"], 16000, rel_tol=1e-9)


def test_a_reached_target_is_the_last_step_and_a_falling_curve_never_reaches_it():
    steps = np.array([100, 200, 400])
    assert curves.projected_steps(steps, np.array([1.0, 2.0, 3.0]), target=2.5)["projected_steps"] == 400
    assert math.isnan(curves.projected_steps(steps, np.array([3.0, 2.0, 1.0]), target=5.0)["projected_steps"])
    assert math.isnan(curves.projected_steps(steps[:1], np.array([1.0]), target=5.0)["projected_steps"])


def test_projections_cover_the_autoencoder_targets_and_the_low_rate_points_only():
    ae = pd.DataFrame({"step": [1000, 2000, 4000], "psnr": [22.0, 23.0, 24.0], "ms_ssim": [0.80, 0.82, 0.84],
                       "encoder_trained": [True, True, True]})
    codec = pd.DataFrame({"model": ["tiny"] * 4, "rate": [0, 0, 3, 3], "codec_steps": [100, 200, 100, 200],
                          "bpp": [0.03, 0.03, 0.06, 0.07], "ms_ssim": [0.6, 0.7, 0.7, 0.75]})
    table = curves.projections(ae, codec)
    assert list(table["what"]) == ["autoencoder psnr", "autoencoder ms_ssim", "tiny rate 0 ms_ssim"]
    # 1 dB per doubling from 24 dB at step 4000
    want = 4000 * 2 ** (curves.AE_TARGETS["psnr"] - 24.0)
    assert math.isclose(table.set_index("what").loc["autoencoder psnr", "projected_steps"], want)
    # once the encoder is frozen, the projection follows the decoder-only curve (the newest points)
    frozen = pd.DataFrame({"step": [8000, 16000], "psnr": [24.5, 25.0], "ms_ssim": [0.85, 0.86],
                           "encoder_trained": [False, False]})
    decoder_only = curves.projections(pd.concat([ae, frozen], ignore_index=True), codec).set_index("what")
    assert decoder_only.loc["autoencoder psnr", "last_steps"] == 16000
    assert math.isclose(decoder_only.loc["autoencoder psnr", "gain_per_doubling"], 0.5)
    assert math.isclose(table.set_index("what").loc["tiny rate 0 ms_ssim", "projected_steps"], 200 * 2)
    # a tuned export adds no codec step: the codec's curve (and projection) leaves it out
    tuned = pd.concat([codec.assign(tune_steps=0), pd.DataFrame({
        "model": ["tiny"], "rate": [0], "codec_steps": [200], "bpp": [0.03], "ms_ssim": [0.75], "tune_steps": [500]})])
    row = curves.projections(ae, tuned).set_index("what").loc["tiny rate 0 ms_ssim"]
    assert row["points"] == 2 and row["last_value"] == 0.7 and math.isclose(row["projected_steps"], 400)


def test_a_decoder_fine_tune_is_projected_on_its_own_steps():
    """A new recipe of ``train ae`` starts from a trained decoder: its gain per doubling counts the
    steps since it started, and its runs are told apart from the decoder-only ones."""
    run = {"freeze_encoder": True, "crop": 512, "decoded_share": 0.5, "ms_ssim_weight": 0.05}
    recipe = curves.recipe_of(run)
    assert recipe.startswith(curves.FINE_TUNE) and "512 px" in recipe and "50%" in recipe
    assert curves.recipe_of({"freeze_encoder": True, "crop": 128}) == "decoder only"
    assert curves.recipe_of({"freeze_encoder": False}) == "encoder + decoder"
    start = 20000
    ae = pd.DataFrame({"step": [16000, 20000, start + 100, start + 200, start + 400],
                       "psnr": [25.0, 25.5, 25.6, 25.8, 26.0 - 0.01], "ms_ssim": [0.86, 0.87, 0.87, 0.88, 0.89],
                       "encoder_trained": [False] * 5,
                       "recipe": ["decoder only"] * 2 + [recipe] * 3, "recipe_start": [0, 0, start, start, start]})
    table = curves.projections(ae, pd.DataFrame()).set_index("what")
    row = table.loc["autoencoder psnr"]
    assert row["points"] == 3 and row["last_steps"] == start + 400 and "since 20000" in row["steps_of"]
    slope, intercept = np.polyfit(np.log2([100, 200, 400]), [25.6, 25.8, 25.99], 1)
    assert math.isclose(row["gain_per_doubling"], slope)
    assert math.isclose(row["projected_steps"], start + 2 ** ((26.0 - intercept) / slope))


def test_an_autoencoder_experiment_that_was_not_shipped_does_not_move_the_projection():
    shipped = pd.DataFrame({"step": [1000, 2000, 4000], "psnr": [22.0, 23.0, 24.0], "ms_ssim": [0.80, 0.82, 0.84],
                            "encoder_trained": [False] * 3, "recipe": ["decoder only"] * 3, "recipe_start": [0] * 3,
                            "shipped": [True] * 3})
    experiment = pd.DataFrame({"step": [4500, 5000], "psnr": [23.0, 22.0], "ms_ssim": [0.83, 0.82],
                               "encoder_trained": [False] * 2, "recipe": ["decoder fine-tune: x"] * 2,
                               "recipe_start": [4000] * 2, "shipped": [False] * 2})
    table = curves.projections(pd.concat([shipped, experiment], ignore_index=True), pd.DataFrame()).set_index("what")
    assert table.loc["autoencoder psnr", "last_steps"] == 4000
    assert math.isclose(table.loc["autoencoder psnr", "gain_per_doubling"], 1.0)
