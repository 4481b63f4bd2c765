"""AVST, the spatio-temporal grounding network of MUSIC-AVQA, and its Table 3 ablations.

Follows the public reference implementation (docs/model.md). Modules only: no paths, no data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence


@dataclass(frozen=True)
class AVSTConfig:
    vocab_size: int
    answers: int = 42
    audio_dim: int = 128
    visual_dim: int = 512
    hidden: int = 512
    word_dim: int = 512
    heads: int = 4
    dropout: float = 0.1
    use_audio: bool = True
    use_visual: bool = True
    temporal_grounding: bool = True
    spatial_grounding: bool = True
    # Standardise each feature channel with training-set statistics (kept in the weights).
    # Not in the reference: raw ResNet maps are all positive with means of several units, which
    # saturates the tanh after the visual projection and makes every patch point the same way
    # in the cosine attention; centring them keeps both informative.
    normalize_features: bool = True

    def __post_init__(self) -> None:
        if self.spatial_grounding and not (self.use_audio and self.use_visual):
            raise ValueError("spatial grounding needs both audio and visual input")
        if self.spatial_grounding and self.visual_dim != self.hidden:
            raise ValueError("spatial grounding compares audio and patches: visual_dim == hidden")

    def to_json(self) -> dict:
        return asdict(self)


def _variant(audio: bool, visual: bool, temporal: bool, spatial: bool) -> dict[str, bool]:
    return {
        "use_audio": audio,
        "use_visual": visual,
        "temporal_grounding": temporal,
        "spatial_grounding": spatial,
    }


# The rows of the paper's Table 3, from the question alone to the full model.
VARIANTS: dict[str, dict[str, bool]] = {
    "question_only": _variant(False, False, False, False),
    "audio_q": _variant(True, False, False, False),
    "visual_q": _variant(False, True, False, False),
    "av_q": _variant(True, True, False, False),
    "av_q_tg": _variant(True, True, True, False),
    "avst": _variant(True, True, True, True),
}


def variant_config(name: str, *, vocab_size: int, **overrides: object) -> AVSTConfig:
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r} (choose one of: {', '.join(VARIANTS)})")
    return AVSTConfig(vocab_size=vocab_size, **{**VARIANTS[name], **overrides})


@dataclass
class AVSTOutput:
    logits: torch.Tensor  # [B, answers]
    match_positive: torch.Tensor | None = None  # [B*T, 2]: a video's own audio and visual
    match_negative: torch.Tensor | None = None  # [B*T, 2]: audio against another video's visual
    audio_weights: torch.Tensor | None = None  # [B, T] temporal attention over audio segments
    visual_weights: torch.Tensor | None = None  # [B, T] temporal attention over visual segments
    spatial_maps: torch.Tensor | None = None  # [B, T, H*W] sound-source attention over patches


class QuestionEncoder(nn.Module):
    """Words → tanh → 1-layer LSTM; [hidden, cell] → tanh → linear to one question vector."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=0)
        self.lstm = nn.LSTM(config.word_dim, config.hidden, batch_first=True)
        self.project = nn.Linear(2 * config.hidden, config.hidden)

    def forward(self, questions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        words = torch.tanh(self.embed(questions))  # [B, L, word_dim]
        # Packing stops the LSTM at each question's own end: padding never changes the encoding.
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (hidden, cell) = self.lstm(packed)  # [1, B, hidden] each
        state = torch.cat([hidden[-1], cell[-1]], dim=-1)  # [B, 2*hidden]
        return self.project(torch.tanh(state))  # [B, hidden]


class SpatialGrounding(nn.Module):
    """Per segment: where in the frame the sound comes from (cosine attention over patches)."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.fuse = nn.Linear(2 * config.visual_dim, config.hidden)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # audio [N, hidden], visual [N, C, H, W], with N = B*T and hidden == C
        patches = visual.flatten(2).transpose(1, 2)  # [N, HW, C]
        global_feature = patches.mean(dim=1)  # [N, C]
        patches = F.normalize(patches, dim=-1)
        cosine = torch.bmm(patches, F.normalize(audio, dim=-1).unsqueeze(-1)).squeeze(-1)
        attention = torch.softmax(cosine, dim=-1)  # [N, HW], sums to 1
        grounded = torch.bmm(attention.unsqueeze(1), patches).squeeze(1)  # [N, C]
        fused = self.fuse(torch.tanh(torch.cat([global_feature, grounded], dim=-1)))  # [N, hidden]
        return fused, attention


class MatchHead(nn.Module):
    """Does this audio segment belong with this visual segment? [audio, visual] → 2 logits."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(2 * config.hidden, 512),
            nn.ReLU(),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 2),
        )

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([audio, visual], dim=-1))


class TemporalGrounding(nn.Module):
    """The question attends over the segments (multi-head), then a feed-forward block."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(
            config.hidden, config.heads, dropout=config.dropout, batch_first=True
        )
        self.feed_forward = nn.Sequential(
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.norm = nn.LayerNorm(config.hidden)

    def forward(
        self, question: torch.Tensor, segments: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # question [B, hidden], segments [B, T, hidden]
        attended, weights = self.attention(
            question.unsqueeze(1), segments, segments, need_weights=True
        )  # [B, 1, hidden], [B, 1, T] averaged over the heads
        attended = attended.squeeze(1)
        attended = self.norm(attended + self.dropout(self.feed_forward(attended)))  # [B, hidden]
        return attended, weights.squeeze(1)


class AVST(nn.Module):
    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden
        self.question = QuestionEncoder(config)
        if config.use_audio:
            self.audio = nn.Sequential(
                nn.Linear(config.audio_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
            )
        if config.use_visual and config.spatial_grounding:
            self.spatial = SpatialGrounding(config)
            self.match = MatchHead(config)
        elif config.use_visual:
            self.visual = nn.Linear(config.visual_dim, hidden)
        if config.temporal_grounding:
            self.temporal = nn.ModuleDict()
            if config.use_audio:
                self.temporal["audio"] = TemporalGrounding(config)
            if config.use_visual:
                self.temporal["visual"] = TemporalGrounding(config)
        streams = int(config.use_audio) + int(config.use_visual)
        if streams:
            self.fuse = nn.Linear(streams * hidden, hidden)
        self.answer = nn.Linear(hidden, config.answers)
        self.register_buffer("audio_mean", torch.zeros(config.audio_dim))
        self.register_buffer("audio_std", torch.ones(config.audio_dim))
        self.register_buffer("visual_mean", torch.zeros(config.visual_dim))
        self.register_buffer("visual_std", torch.ones(config.visual_dim))

    @torch.no_grad()
    def set_feature_statistics(
        self,
        audio_mean: torch.Tensor,
        audio_std: torch.Tensor,
        visual_mean: torch.Tensor,
        visual_std: torch.Tensor,
    ) -> None:
        """Per-channel statistics of the training features ([128] and [512] each)."""
        self.audio_mean.copy_(audio_mean)
        self.audio_std.copy_(audio_std.clamp_min(1e-3))
        self.visual_mean.copy_(visual_mean)
        self.visual_std.copy_(visual_std.clamp_min(1e-3))

    def _standardise(self, audio: torch.Tensor | None, visual: torch.Tensor | None):
        if not self.config.normalize_features:
            return audio, visual
        if audio is not None:
            audio = (audio - self.audio_mean) / self.audio_std
        if visual is not None:
            shape = (-1, 1, 1)  # channels first: [..., C, H, W]
            visual = (visual - self.visual_mean.view(shape)) / self.visual_std.view(shape)
        return audio, visual

    def forward(
        self,
        questions: torch.Tensor,  # [B, L]
        lengths: torch.Tensor,  # [B]
        audio: torch.Tensor | None = None,  # [B, T, 128]
        visual: torch.Tensor | None = None,  # [B, T, 512, 14, 14]
        negative_visual: torch.Tensor | None = None,  # [B, T, 512, 14, 14]
    ) -> AVSTOutput:
        config = self.config
        audio, visual = self._standardise(audio, visual)
        if negative_visual is not None:
            _, negative_visual = self._standardise(None, negative_visual)
        question = self.question(questions, lengths)  # [B, hidden]
        out = AVSTOutput(logits=question.new_zeros(0))
        segments: dict[str, torch.Tensor] = {}
        if config.use_audio:
            segments["audio"] = self.audio(audio)  # [B, T, hidden]
        if config.use_visual and config.spatial_grounding:
            batch, count = visual.shape[:2]
            flat_audio = segments["audio"].flatten(0, 1)  # [B*T, hidden]
            grounded, maps = self.spatial(flat_audio, visual.flatten(0, 1))  # [B*T, hidden]
            out.match_positive = self.match(flat_audio, grounded)  # [B*T, 2]
            if negative_visual is not None:
                negative, _ = self.spatial(flat_audio, negative_visual.flatten(0, 1))
                out.match_negative = self.match(flat_audio, negative)  # [B*T, 2]
            out.spatial_maps = maps.view(batch, count, -1)  # [B, T, HW]
            segments["visual"] = grounded.view(batch, count, -1)  # [B, T, hidden]
        elif config.use_visual:
            pooled = visual.mean(dim=(-2, -1))  # [B, T, 512]
            segments["visual"] = torch.tanh(self.visual(pooled))  # [B, T, hidden]

        streams = []
        for name, stream in segments.items():
            mean = stream.mean(dim=1)  # [B, hidden]
            if config.temporal_grounding:
                attended, weights = self.temporal[name](question, stream)  # [B, hidden], [B, T]
                setattr(out, f"{name}_weights", weights)
                streams.append(attended + mean)
            else:
                streams.append(mean)
        if streams:
            fused = self.fuse(torch.tanh(torch.cat(streams, dim=-1)))  # [B, hidden]
            question = fused * question  # [B, hidden]
        out.logits = self.answer(torch.tanh(question))  # [B, answers]
        return out
