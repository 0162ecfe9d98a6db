"""Image augmentations for training a camera world model, drawn once per training window.

What a robot's camera really varies: exposure and white balance (the light, the auto-exposure,
another camera unit) and a few pixels of mounting (a bracket bent, a camera refitted, vibration).
So each window gets one brightness factor, one contrast factor, one gain per colour channel and
one translation of up to ``shift_px`` pixels (edge pixels repeated), and every frame of the
window (the online encoder's first frame and the target encoder's later ones alike) gets the
same: the change between frames is still only what the robot's motion did, and the latent
learns to ignore what differs between windows. No flips (left and right matter to steering)
and no rotations (the camera stays level on a ground robot).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from world_model_planner.core.params import param, validate


@dataclass
class ImageAugment:
    """Per-window image augmentation of camera-model training (0 switches a part off)."""

    brightness: float = param(0.25, "Brightness factor drawn in [1 - b, 1 + b] per window.", range=(0.0, 0.9))
    contrast: float = param(0.25, "Contrast factor drawn in [1 - c, 1 + c] per window (about the frame's "
                                  "mean grey).", range=(0.0, 0.9))
    channel_gain: float = param(0.08, "White balance: a gain per colour channel in [1 - g, 1 + g] per window.",
                                range=(0.0, 0.5))
    shift_px: int = param(3, "Translation of up to this many pixels in x and y per window (a small crop; "
                             "edge pixels repeated).", range=(0, 16))

    def __post_init__(self):
        validate(self)

    @property
    def enabled(self) -> bool:
        return bool(self.brightness or self.contrast or self.channel_gain or self.shift_px)


def _uniform(n: int, half: float, gen: torch.Generator, shape: tuple = ()) -> torch.Tensor:
    """(n, *shape) factors in [1 - half, 1 + half] (CPU, from ``gen``)."""
    return 1.0 + half * (2.0 * torch.rand((n,) + shape, generator=gen) - 1.0)


def _draws(b: int, c: int, aug: ImageAugment, gen: torch.Generator, dev) -> tuple:
    """One window's brightness, contrast, channel gains and shift for each of b windows, drawn in
    a fixed order (the same number of draws whatever the parts switched on)."""
    bright = _uniform(b, aug.brightness, gen).to(dev)
    contr = _uniform(b, aug.contrast, gen).to(dev)
    gain = _uniform(b, aug.channel_gain, gen, (c,)).to(dev)
    shift = torch.randint(-aug.shift_px, aug.shift_px + 1, (b, 2), generator=gen).to(dev)
    return bright, contr, gain, shift


def _colour(x: torch.Tensor, aug: ImageAugment, bright, contr, gain) -> torch.Tensor:
    """Contrast about each frame's mean grey, then brightness and white balance; (B, T, 3, h, w)
    floats in [0, 1]."""
    b, c = x.shape[0], x.shape[2]
    if aug.contrast:
        grey = x.mean(dim=(2, 3, 4), keepdim=True)                              # per frame
        x = (x - grey) * contr.view(b, 1, 1, 1, 1) + grey
    return (x * (bright.view(b, 1, 1, 1, 1) * gain.view(b, 1, c, 1, 1))).clamp(0.0, 1.0)


def augment_cells(cells: torch.Tensor, aug: ImageAugment, gen: torch.Generator) -> torch.Tensor:
    """cells (B, T, 3, N, N) floats in [0, 1]: frames already averaged over N x N cells (a pooled
    image encoder, ``WorldModelConfig.image_pool``) -> the same, with the colour parts of
    :func:`augment_windows` (the same draws; the mean grey of equal cells is the frame's, so
    contrast, brightness and white balance act as on the pixels up to the clamp) and no shift
    (a few pixels are less than a cell)."""
    if not aug.enabled:
        return cells
    bright, contr, gain, _ = _draws(cells.shape[0], cells.shape[2], aug, gen, cells.device)
    return _colour(cells, aug, bright, contr, gain)


def augment_windows(images: torch.Tensor, aug: ImageAugment, gen: torch.Generator) -> torch.Tensor:
    """images (B, T, 3, S, S) uint8 -> the same shape and dtype, one draw per window (all T frames
    alike). The draws come from ``gen`` (CPU) in a fixed order, so a seeded run repeats."""
    if not aug.enabled:
        return images
    b, t, c, hgt, wid = images.shape
    dev = images.device
    bright, contr, gain, shift = _draws(b, c, aug, gen, dev)
    x = _colour(images.float() / 255.0, aug, bright, contr, gain)              # (B, T, 3, S, S)
    if aug.shift_px:
        p = aug.shift_px
        flat = F.pad(x.flatten(0, 1), (p, p, p, p), mode="replicate")          # (B*T, 3, S+2p, S+2p)
        ys = (torch.arange(hgt, device=dev).view(1, hgt) + p - shift[:, 1:2]).repeat_interleave(t, 0)
        xs = (torch.arange(wid, device=dev).view(1, wid) + p - shift[:, 0:1]).repeat_interleave(t, 0)
        n = flat.shape[0]
        rows = torch.gather(flat, 2, ys.view(n, 1, hgt, 1).expand(n, c, hgt, flat.shape[3]))
        x = torch.gather(rows, 3, xs.view(n, 1, 1, wid).expand(n, c, hgt, wid)).view(b, t, c, hgt, wid)
    return (x * 255.0).round_().to(torch.uint8)
