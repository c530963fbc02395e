"""``ditic_lite.targets``: issue 20's targets read from the committed measurements."""
import pandas as pd

from ditic_lite import targets as T
from ditic_lite.cli import main


def test_the_committed_target_table_follows_the_committed_measurements(tmp_path):
    committed = pd.read_csv(T.RESULTS / "targets.csv", dtype=str, keep_default_na=False)
    out = tmp_path / "targets.csv"
    assert main(["claims", "--targets", "--out", str(out)]) == 0
    rebuilt = pd.read_csv(out, dtype=str, keep_default_na=False)
    # after new measurements: ditic-lite claims --targets --out data/results/targets.csv
    pd.testing.assert_frame_equal(committed, rebuilt)


def test_the_webp_gap_and_the_rate_control_verdicts_follow_their_numbers():
    validation = pd.read_csv(T.RESULTS / "validation.csv")
    sweep = pd.read_csv(T.RESULTS / "quant_step_sweep.csv")
    rows = {r["target"].split(",")[0]: r for r in T.codec_rows(validation, sweep)}
    gap = float(rows["PSNR below webp-ds at the same bits"]["measured"].split(" dB")[0])
    worse = validation.copy()
    worse.loc[worse["codec"] == "webp-ds", "psnr"] += 1.01 - gap  # webp-ds now 1.01 dB above
    assert {r["target"].split(",")[0]: r for r in T.codec_rows(worse, sweep)}[
        "PSNR below webp-ds at the same bits"]["met"] == "no"
    flat = sweep.copy()
    flat.loc[flat["quant_step"] == flat["quant_step"].min(), "psnr"] -= 5.0  # the finest step now worse
    control = [r for r in T.codec_rows(validation, flat) if r["target"].startswith("rate control")][0]
    assert control["met"] == "no" and "not rising" in control["measured"]
