"""The kit's one determinism helper.

Entropy decoding only works if the decoder rebuilds *exactly* the probability tables the encoder
used. Float reductions in convolutions are summed in a different order with a different number of
threads (differences around 1e-6), and a single scale index or rounding decision that flips
desynchronises the rANS stream or changes a pixel. Running the coding paths with one thread makes
encoder and decoder bit-identical whatever thread count the user's process has.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def deterministic_threads() -> Iterator[None]:
    """Run the block with one intra-op thread (and, on CUDA, deterministic cuDNN without TF32),
    then restore the previous settings."""
    previous = torch.get_num_threads()
    cuda_flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
                  torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.set_num_threads(1)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
         torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) = cuda_flags


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (training and tests)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
