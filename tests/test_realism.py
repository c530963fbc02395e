"""The realism decoder: same bytes, a texture head after the fidelity decoder (issue 32)."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

import ditic_lite as dl
from ditic_lite.evaluate import compare_decoders
from ditic_lite.realism import TextureHead
from ditic_lite.spectrum import laplacian_detail, laplacian_energy


def _textured(seed=0, size=(96, 128)):
    rng = np.random.default_rng(seed)
    a = np.zeros((*size, 3), np.uint8)
    a[:, : size[1] // 2] = rng.integers(0, 256, (size[0], size[1] // 2, 3))  # texture on the left
    a[:, size[1] // 2:] = 128  # flat on the right
    return Image.fromarray(a)


def test_laplacian_measures_follow_their_definitions():
    image = _textured()
    same = laplacian_detail(image, image)
    assert same == pytest.approx({"detail_ratio": 1.0, "block_correlation": 1.0, "flat_block_ratio": 1.0})
    blurred = laplacian_detail(image, image.filter(ImageFilter.GaussianBlur(2)))
    assert blurred["detail_ratio"] < 0.3
    noisy = np.asarray(image).astype(float) + np.random.default_rng(1).normal(0, 20, (96, 128, 3))
    noisy = laplacian_detail(image, Image.fromarray(noisy.clip(0, 255).astype(np.uint8)))
    assert noisy["flat_block_ratio"] > 2.0  # noise everywhere fails the flat blocks
    # one pixel of 8-bit value 1 on black: its own 4**2, each neighbour's 1
    dot = np.zeros((5, 5, 3), np.uint8)
    dot[2, 2] = 1
    assert laplacian_energy(Image.fromarray(dot)).sum() == pytest.approx((4 ** 2 + 4) * 1.0, rel=1e-6)


def test_an_untrained_head_returns_the_fidelity_image_and_noise_is_seeded():
    head = TextureHead()
    image, y_hat, sigma_map = torch.rand(1, 3, 64, 64), torch.randn(1, 32, 2, 2), torch.rand(1, 32, 2, 2)
    assert torch.equal(head(image, y_hat, sigma_map, head.noise_for(image)), image)
    assert torch.equal(head.noise_for(image), head.noise_for(image))
    assert not torch.equal(head.noise_for(image, seed=None), head.noise_for(image, seed=None))


def test_a_head_that_follows_detail_draws_nothing_on_flat_ground():
    from ditic_lite.realism import local_detail

    image = torch.from_numpy(np.asarray(_textured(), np.float32) / 255).permute(2, 0, 1)[None]
    detail = local_detail(image)[0, 0]
    assert float(detail[:, 70:].max()) < 0.02 < 1.0 < float(detail[:, :50].min())  # flat right, textured left
    head = TextureHead(follow_detail=True)
    torch.nn.init.normal_(head.gate.weight, std=0.5)
    y_hat, sigma_map = torch.randn(1, 32, 3, 4), torch.rand(1, 32, 3, 4)
    with torch.no_grad():
        out = head(image, y_hat, sigma_map, head.noise_for(image)) - image
    assert head.arch == dict(width=32, noise_channels=4, blocks=4, follow_detail=True)  # what the card records
    # the smooth correction starts at zero: what is drawn is texture, on the textured half only
    assert float(out[..., 72:].abs().mean()) < 0.02 * float(out[..., :56].abs().mean())


def test_same_bytes_two_decoders(sample_paths):
    codec = dl.load("tiny", rate=0)
    if codec.realism is None:  # before the first realism head ships: a random one shows the path
        torch.manual_seed(0)
        codec.realism = TextureHead()
        torch.nn.init.normal_(codec.realism.gate.weight, std=0.05)
    data = codec.compress(sample_paths[0])
    fidelity = codec.decompress(data)
    realism, info = codec.decompress(data, decoder="realism", return_intermediates=True)
    assert realism.size == fidelity.size and "realism" in info["timings"]
    assert np.asarray(realism).tobytes() != np.asarray(fidelity).tobytes()
    assert np.asarray(codec.decompress(data, decoder="realism")).tobytes() == np.asarray(realism).tobytes()
    with pytest.raises(ValueError, match="decoder must be one of"):
        codec.decompress(data, decoder="sharp")
    with pytest.raises(ValueError, match="no realism decoder"):
        dl.load("mse", rate=0).decompress(dl.load("mse", rate=0).compress(sample_paths[0]), decoder="realism")
    table = compare_decoders(codec, {"sample": sample_paths[0]}, rates=[0],
                             filters={"unsharp mask": dl.realism.sharpen_detail})
    assert list(table["decoder"]) == ["fidelity", "realism", "unsharp mask"] and table["bytes"].nunique() == 1
    by = table.set_index("decoder")
    assert by.loc["unsharp mask", "detail_ratio"] > by.loc["fidelity", "detail_ratio"]  # the same bytes, sharpened


def test_the_unsharp_yardstick_sharpens_detail_and_leaves_flat_ground():
    from ditic_lite.realism import sharpen_detail

    image = _textured().filter(ImageFilter.GaussianBlur(1))
    sharpened = sharpen_detail(image)
    assert sharpened.size == image.size and np.asarray(sharpen_detail(image)).tobytes() == np.asarray(sharpened).tobytes()
    before, after = np.asarray(image).astype(int), np.asarray(sharpened).astype(int)
    assert np.array_equal(after[:, 72:], before[:, 72:])  # nothing drawn on the flat half
    assert laplacian_detail(_textured(), sharpened)["detail_ratio"] > 1.5 * laplacian_detail(_textured(), image)["detail_ratio"]
    assert np.array_equal(np.asarray(sharpen_detail(image, amount=0)), before)


def test_targets_met_count_each_target_on_the_medians():
    import pandas as pd

    rows = []
    for image in "abc":
        rows.append(dict(image=image, rate=0, decoder="fidelity", psnr=24.0, detail_ratio=0.05,
                         block_correlation=0.64, flat_block_ratio=0.4))
        rows.append(dict(image=image, rate=0, decoder="realism", psnr=23.8, detail_ratio=0.2,
                         block_correlation=0.5, flat_block_ratio=2.2))
        rows.append(dict(image=image, rate=0, decoder="sharp", psnr=21.5, detail_ratio=0.35,
                         block_correlation=0.62, flat_block_ratio=1.2))
    met = dl.claims.realism_targets_met(pd.DataFrame(rows))
    assert list(met.index) == ["realism", "sharp"]
    assert met.loc["realism", "psnr_cost"] == pytest.approx(0.2)
    assert met.loc["realism", "targets_met"] == 1  # only the PSNR cost
    assert met.loc["sharp", "targets_met"] == 3  # all but the 2.5 dB PSNR cost
    assert not met.loc["sharp", "meets_psnr_cost"]


def test_realism_claims_judge_each_target_from_the_table():
    import pandas as pd

    rows = []
    for i, image in enumerate("abc"):
        for rate in (0, 3):
            rows.append(dict(image=image, rate=rate, decoder="fidelity", psnr=24.0 + 0.1 * i, detail_ratio=0.05,
                             block_correlation=0.4, flat_block_ratio=0.2))
            rows.append(dict(image=image, rate=rate, decoder="realism", psnr=21.0 + 0.1 * i + 0.01 * rate,
                             detail_ratio=0.5 + 0.01 * i, block_correlation=0.7 + 0.01 * i + 0.001 * rate,
                             flat_block_ratio=5.0 + 0.1 * i))
    verdicts = [v.verdict for v in dl.claims.realism_claims(pd.DataFrame(rows))]
    # more detail, in the right blocks; but noise on flat ground and a 3 dB cost
    assert verdicts == ["supports", "supports", "contradicts", "contradicts"]
    inconclusive = dl.claims.against_target("x", [0.5, 0.7], 0.6, above=True)
    assert inconclusive.verdict == "inconclusive" and "target is above 0.6" in dl.claims.takeaway(inconclusive)


def test_tradeoff_summary_and_chart_from_a_table():
    import pandas as pd

    rows = [dict(image=image, rate=rate, decoder=decoder, bpp=0.02, psnr=psnr - 0.1 * i, ms_ssim=0.8,
                 detail_ratio=detail, block_correlation=0.6, flat_block_ratio=1.0, decode_s=1.0,
                 energy_weight=energy)
            for i, image in enumerate("ab") for rate in (0, 3)
            for decoder, psnr, detail, energy in (("fidelity", 24.0, 0.05, float("nan")),
                                                  ("realism, energy 0.01", 23.8, 0.6, 0.01))]
    summary = dl.evaluate.tradeoff_summary(pd.DataFrame(rows))
    realism = summary[summary["decoder"] != "fidelity"]
    assert list(realism["psnr_cost"].round(6)) == [0.2, 0.2] and list(realism["energy_weight"]) == [0.01, 0.01]
    fig = dl.plots.tradeoff_chart(summary)
    numbers = [t.get_text() for t in fig.axes[0].texts if t.get_text().isdigit()]
    assert sorted(numbers) == ["1", "1", "2", "2"]  # two decoders at two rate points, numbered by PSNR
    assert "1: fidelity\n2: energy 0.01" in fig.texts[0].get_text()
