"""What the networks are fed, made from a decoded clip (qa_model.decode), as the MUSIC-AVQA
reference pipeline makes it:

- visual: each sampled frame resized to 224×224 and normalised with the reference mean and std;
- audio: the VGGish log-mel patch of 96 frames × 64 bands (25 ms window, 10 ms hop,
  125–7500 Hz, log(mel + 0.01)) starting at each sampled second of the 16 kHz mono waveform.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from qa_model.contract import FRAME_SIDE
from qa_model.decode import SAMPLE_RATE

VISUAL_MEAN = (0.43216, 0.394666, 0.37645)
VISUAL_STD = (0.22803, 0.22145, 0.216989)
IMAGE_SIZE = FRAME_SIDE

# VGGish front end (the published VGGish parameters).
_WINDOW = 400  # 25 ms at 16 kHz
_HOP = 160  # 10 ms
_FFT = 512  # next power of two above the window
_MEL_BANDS = 64
_MEL_LOW, _MEL_HIGH = 125.0, 7500.0
_LOG_OFFSET = 0.01
PATCH_FRAMES = 96  # 0.96 s
FRAMES_PER_SECOND = SAMPLE_RATE // _HOP  # 100


def _mel_matrix() -> np.ndarray:
    """[FFT bins, 64] triangular mel weights, as VGGish's mel_features builds them (HTK mel)."""

    def hz_to_mel(hz):
        return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)

    bins = _FFT // 2 + 1
    bin_mels = hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, bins))
    edges = np.linspace(hz_to_mel(_MEL_LOW), hz_to_mel(_MEL_HIGH), _MEL_BANDS + 2)
    weights = np.empty((bins, _MEL_BANDS))
    for band in range(_MEL_BANDS):
        lower, centre, upper = edges[band : band + 3]
        rising = (bin_mels - lower) / (centre - lower)
        falling = (upper - bin_mels) / (upper - centre)
        weights[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin carries no band
    return weights.astype(np.float32)


def log_mel(audio: torch.Tensor) -> torch.Tensor:
    """[S] waveform at 16 kHz → [frames, 64] log-mel spectrogram (10 ms frames)."""
    window = torch.hann_window(_WINDOW, periodic=True, device=audio.device)
    frames = audio.unfold(0, _WINDOW, _HOP) * window  # [frames, 400]
    magnitude = torch.fft.rfft(frames, n=_FFT).abs()  # [frames, 257]
    mel = magnitude @ torch.from_numpy(_mel_matrix()).to(audio.device)
    return torch.log(mel + _LOG_OFFSET)


def audio_patches(audio: np.ndarray, seconds: Sequence[int], device: torch.device) -> torch.Tensor:
    """[T, 1, 96, 64]: the log-mel patch starting at each sampled second."""
    spectrogram = log_mel(torch.from_numpy(audio).to(device))
    needed = (max(seconds) * FRAMES_PER_SECOND) + PATCH_FRAMES
    if spectrogram.shape[0] < needed:
        pad = spectrogram[-1:].expand(needed - spectrogram.shape[0], -1)
        spectrogram = torch.cat([spectrogram, pad])
    patches = [
        spectrogram[second * FRAMES_PER_SECOND : second * FRAMES_PER_SECOND + PATCH_FRAMES]
        for second in seconds
    ]
    return torch.stack(patches).unsqueeze(1)


def image_batch(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """[T, H, W, 3] uint8 → [T, 3, 224, 224] resized and normalised as the reference does."""
    images = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0
    images = F.interpolate(images, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True)
    mean = torch.tensor(VISUAL_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(VISUAL_STD, device=device).view(1, 3, 1, 1)
    return (images - mean) / std
