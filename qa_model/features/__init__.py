"""Audio and visual features per video, as the MUSIC-AVQA reference pipeline computes them.

For each sampled second i (default 0, 6, …, 54 of a 60-s clip, shorter clips padded by
repeating their last second):
- visual: the frame at t = i + 0.5 s, resized to 224×224, normalised with the reference mean
  and std, through ResNet-18 up to layer4 with layer4's stride set to 1 → [512, 14, 14];
- audio: 16 kHz mono; a VGGish log-mel patch of 96 frames × 64 bands (25 ms window, 10 ms hop,
  125–7500 Hz, log(mel + 0.01)) starting at second i, through VGGish → a raw 128-D embedding.

On-disk layout: one file per video, `<features>/<video_id>.npz` (NumPy, uncompressed), with
  audio   float16 [T, 128]
  visual  float16 [T, 512, 14, 14]
  seconds int16   [T]        the sampled seconds
written to a temporary name and renamed, so a file that exists is complete.

Weights come from files the operator names (the torchvision ResNet-18 state dict; the usual
converted VGGish state dict, e.g. torchvggish's `vggish-10086976.pth`); without a file the
network is randomly initialised and a warning is logged (features are then only useful for
tests and the synthetic benchmark, where every model sees the same extractor).

The package, by concern (decoding the frames and audio lives in qa_model.decode):
- frontend:   what the networks are fed (log-mel patches, resized and normalised images);
- networks:   ResNet-18 with layer4 at stride 1, VGGish, their weights loaded by path;
- extraction: FeatureExtractor, running both networks over batches of clips;
- storage:    the feature files (feature_path, save_features, load_features).
Every public name is re-exported here, so `from qa_model.features import X` keeps working.
"""

from __future__ import annotations

# Importable from here before the split (feature code used them from qa_model.decode).
from qa_model.decode import (
    CLIP_SECONDS,
    DEFAULT_SECONDS,
    SAMPLE_RATE,
    DecodedClip,
    FeatureError,
    decode_clip,
)
from qa_model.features.extraction import FeatureExtractor, default_device
from qa_model.features.frontend import (
    FRAMES_PER_SECOND,
    IMAGE_SIZE,
    PATCH_FRAMES,
    VISUAL_MEAN,
    VISUAL_STD,
    audio_patches,
    image_batch,
    log_mel,
)
from qa_model.features.networks import VGGish, resnet18_stride1, vggish
from qa_model.features.storage import VIDEO_ID, feature_path, load_features, save_features

__all__ = [
    "CLIP_SECONDS",
    "DEFAULT_SECONDS",
    "FRAMES_PER_SECOND",
    "IMAGE_SIZE",
    "PATCH_FRAMES",
    "SAMPLE_RATE",
    "VIDEO_ID",
    "VISUAL_MEAN",
    "VISUAL_STD",
    "DecodedClip",
    "FeatureError",
    "FeatureExtractor",
    "VGGish",
    "audio_patches",
    "decode_clip",
    "default_device",
    "feature_path",
    "image_batch",
    "load_features",
    "log_mel",
    "resnet18_stride1",
    "save_features",
    "vggish",
]
