"""The two networks features are made with, and loading their weights from the files named.

- visual: ResNet-18 up to layer4 with layer4's stride set to 1 → [512, 14, 14] per image;
- audio: VGGish → a raw 128-D embedding per 96 × 64 log-mel patch.

Weights come from files the operator names (the torchvision ResNet-18 state dict; the usual
converted VGGish state dict, e.g. torchvggish's `vggish-10086976.pth`); without a file the
network is randomly initialised and a warning is logged (features are then only useful for
tests and the synthetic benchmark, where every model sees the same extractor).
"""

from __future__ import annotations

import logging
import os

import torch
import torchvision
from torch import nn

logger = logging.getLogger(__name__)


def resnet18_stride1(weights: str | os.PathLike | None = None) -> nn.Module:
    """ResNet-18 up to layer4, layer4's stride set to 1: [N, 3, 224, 224] → [N, 512, 14, 14]."""
    model = torchvision.models.resnet18(weights=None)
    if weights:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    else:
        logger.warning("ResNet-18: no weights file given; using random initialisation")
    model.layer4[0].conv1.stride = (1, 1)
    model.layer4[0].downsample[0].stride = (1, 1)
    return nn.Sequential(*list(model.children())[:-2]).eval()


class VGGish(nn.Module):
    """VGGish (Hershey et al. 2017): [N, 1, 96, 64] log-mel patches → [N, 128] embeddings.

    Module names follow the common PyTorch conversion (`features.*`, `embeddings.*`), so its
    state dict loads as is.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width in (64, "pool", 128, "pool", 256, 256, "pool", 512, 512, "pool"):
            if width == "pool":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 128),
            nn.ReLU(inplace=True),
        )
        # He initialisation keeps activations at scale through the stack, so a randomly
        # initialised network (no weights file) still gives usable, non-vanishing embeddings.
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        maps = self.features(patches)  # [N, 512, 6, 4]
        # Flatten in TensorFlow's (height, width, channel) order, as the original weights expect.
        maps = maps.permute(0, 2, 3, 1).contiguous()
        return self.embeddings(maps.flatten(1))  # [N, 128]


def vggish(weights: str | os.PathLike | None = None) -> VGGish:
    model = VGGish()
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    else:
        logger.warning("VGGish: no weights file given; using random initialisation")
    return model.eval()
