"""Plain takeaways (``claims.takeaway``): one sentence per verdict, computed from the verdict."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ditic_lite import claims as C


def test_takeaway_answers_follow_the_verdict():
    q = "Does A beat B?"
    assert C.takeaway(C.better("c", [0.5, 0.6, 0.55], 0.1, " dB", plain=q)).startswith(f"{q} Yes — +0.550 dB on average")
    assert C.takeaway(C.better("c", [-0.01, 0.01, 0.0], 0.1, " dB", plain=q)).startswith(f"{q} No — ")
    unclear = C.takeaway(C.better("c", [-1.0, 2.0, 0.5], 0.1, " dB", plain=q))
    assert unclear.startswith(f"{q} Can't tell from these 3 photos — ")
    assert "Can't tell from 1 photo" in C.takeaway(C.better("c", [3.0], 0.1))
    assert "Not checked in this run — no base DiT" in C.takeaway(C.not_checked("c", "no base DiT", plain=q))


def test_takeaway_states_the_estimate_in_plain_units():
    t = C.takeaway(C.correlation("c", [0.4, 0.5, 0.45], [384] * 3, plain="Q?"))
    assert "rank correlation of +0.45" in t and "Fisher" not in t
    ring = C.takeaway(C.no_worse("c", [0.0, 0.02, -0.01], 0.2, " SD", digits=2))
    assert "standard deviations of the map" in ring and " SD" not in ring
    assert "2 of 3 right" in C.takeaway(C.above_chance("c", 2, 3, 1 / 3))


def test_takeaways_render_one_line_per_verdict_and_markdown_bullets():
    vs = [C.better("c", [0.5, 0.6], 0.1, plain="A?"), C.not_checked("d", "why", plain="B?")]
    text = C.takeaways(vs)
    assert text.splitlines() == [C.takeaway(v) for v in vs]
    assert text._repr_markdown_().splitlines()[0] == "- " + C.takeaway(vs[0])


def test_builders_give_every_verdict_a_plain_question():
    sigma = pd.DataFrame({"r_error": [0.3, 0.4], "r_texture": [0.2, 0.1], "positions": [256, 256],
                          "ring_sigma": [0.1, 0.2], "ring_error": [0.1, 0.3], "ring_texture": [0.0, 0.1]})
    ablation = pd.DataFrame({"psnr_pixelwise": [30.1, 29.0], "psnr_global": [30.0, 28.8],
                             "ms_ssim_pixelwise": [0.9, 0.8], "ms_ssim_global": [0.89, 0.8]})
    steps = pd.DataFrame({"image": ["a", "a", "b", "b"], "method": ["DiT-IC", "DiT-IC"] * 2,
                          "steps": [1, 4] * 2, "psnr": [30.0, 29.5, 28.0, 27.9], "ms_ssim": [np.nan] * 4})
    for v in C.variance_claims(sigma, ablation) + C.steps_claims(steps):
        assert v.plain.endswith("?") and C.takeaway(v).startswith(v.plain)
