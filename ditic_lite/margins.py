"""The smallest difference worth claiming, per measure: what a verdict (``claims.py``) or a
plain sentence (``teaching``) calls a real difference. Standard library only, so that both can
read it without importing each other."""

MARGINS = {
    "psnr": 0.1,          # dB
    "ms_ssim": 0.002,
    "detail": 0.05,       # detail error |log2 retention|, about 3.5 % of the high-frequency power
    "lpips": 0.005, "dists": 0.005,
    "cosine": 0.01,
    "ring": 0.2,          # border excess of a map, in standard deviations of the map (evidence.border_excess)
}
