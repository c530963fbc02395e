"""scripts/issue_targets.py: issue 20's targets read from the committed measurements."""
import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "issue_targets.py"
spec = importlib.util.spec_from_file_location("issue_targets", SCRIPT)
issue_targets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(issue_targets)


def test_the_committed_target_table_follows_the_committed_measurements():
    committed = pd.read_csv(issue_targets.OUT, dtype=str, keep_default_na=False)
    rebuilt = issue_targets.targets().astype(str)
    pd.testing.assert_frame_equal(committed, rebuilt)  # rerun scripts/issue_targets.py after new measurements


def test_the_webp_gap_and_the_rate_control_verdicts_follow_their_numbers():
    validation = pd.read_csv(issue_targets.RESULTS / "validation.csv")
    sweep = pd.read_csv(issue_targets.RESULTS / "quant_step_sweep.csv")
    rows = {r["target"].split(",")[0]: r for r in issue_targets.codec_rows(validation, sweep)}
    gap = float(rows["PSNR below webp-ds at the same bits"]["measured"].split(" dB")[0])
    worse = validation.copy()
    worse.loc[worse["codec"] == "webp-ds", "psnr"] += 1.01 - gap  # webp-ds now 1.01 dB above
    assert {r["target"].split(",")[0]: r for r in issue_targets.codec_rows(worse, sweep)}[
        "PSNR below webp-ds at the same bits"]["met"] == "no"
    flat = sweep.copy()
    flat.loc[flat["quant_step"] == flat["quant_step"].min(), "psnr"] -= 5.0  # the finest step now worse
    control = [r for r in issue_targets.codec_rows(validation, flat) if r["target"].startswith("rate control")][0]
    assert control["met"] == "no" and "not rising" in control["measured"]
