"""AVST, the spatio-temporal grounding network of MUSIC-AVQA, its Table 3 ablations, and AVST+.

AVST follows the public reference implementation (docs/model.md). AVST+ (`avst_plus`) adds
what later methods learned (docs/model.md, "AVST+"). Modules only: no paths, no data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from qa_model.data import Inputs


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
    # "avst": the paper's network; "avst_plus": question-guided selection over patches and
    # seconds with positions in space and time, fused by a small transformer (AVSTPlus).
    architecture: str = "avst"
    fusion_layers: int = 2  # AVST+ only
    patch_heads: int = 4  # AVST+ only: question/audio-guided looks at each frame

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {self.architecture!r} "
                f"(choose one of: {', '.join(ARCHITECTURES)})"
            )
        if self.architecture == "avst_plus" and not (self.use_audio and self.use_visual):
            raise ValueError("AVST+ reads both audio and visual features")
        if self.spatial_grounding and not (self.use_audio and self.use_visual):
            raise ValueError("spatial grounding needs both audio and visual input")
        if self.spatial_grounding and self.visual_dim != self.hidden:
            raise ValueError("spatial grounding compares audio and patches: visual_dim == hidden")

    def to_json(self) -> dict:
        return asdict(self)


ARCHITECTURES = ("avst", "avst_plus")


def _variant(audio: bool, visual: bool, temporal: bool, spatial: bool) -> dict[str, object]:
    return {
        "use_audio": audio,
        "use_visual": visual,
        "temporal_grounding": temporal,
        "spatial_grounding": spatial,
    }


# The rows of the paper's Table 3, from the question alone to the full model.
VARIANTS: dict[str, dict[str, object]] = {
    "question_only": _variant(False, False, False, False),
    "audio_q": _variant(True, False, False, False),
    "visual_q": _variant(False, True, False, False),
    "av_q": _variant(True, True, False, False),
    "av_q_tg": _variant(True, True, True, False),
    "avst": _variant(True, True, True, True),
    # Not a row of Table 3: the better model, beside the faithful one.
    "avst_plus": {**_variant(True, True, True, False), "architecture": "avst_plus", "hidden": 256},
}


def model_inputs(config: AVSTConfig) -> Inputs:
    """What a configuration reads: maps only where it grounds spatially, else the pooled
    visual features, and non-matched maps only for the match loss."""
    if config.architecture == "avst_plus":
        return Inputs(audio=True, visual=True, pooled_visual=False, negatives=False)
    spatial = config.use_visual and config.spatial_grounding
    return Inputs(
        audio=config.use_audio,
        visual=spatial,
        pooled_visual=config.use_visual and not spatial,
        negatives=spatial,
    )


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
        return self.encode(questions, lengths)[0]

    def encode(
        self, questions: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The question vector [B, hidden] and the LSTM's output at each word [B, L, hidden]
        (zeros past a question's end)."""
        words = torch.tanh(self.embed(questions))  # [B, L, word_dim]
        # Packing stops the LSTM at each question's own end: padding never changes the encoding.
        packed = pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, (hidden, cell) = self.lstm(packed)  # [1, B, hidden] each
        state = torch.cat([hidden[-1], cell[-1]], dim=-1)  # [B, 2*hidden]
        per_word, _ = pad_packed_sequence(
            outputs, batch_first=True, total_length=questions.shape[1]
        )
        return self.project(torch.tanh(state)), per_word


class SpatialGrounding(nn.Module):
    """Per segment: where in the frame the sound comes from (cosine attention over patches)."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.fuse = nn.Linear(2 * config.visual_dim, config.hidden)

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # audio [N, hidden], visual [N, C, H, W], with N = B*T and hidden == C.
        # The reference normalises every patch vector, then takes cosines with the sound and
        # the attention-weighted mean of the normalised patches. The same numbers come from the
        # patches' norms alone: cosine = (sound · patch) / |patch|, and the weighted mean of
        # patch / |patch| is the mean of the patches weighted by attention / |patch|. Dividing a
        # [HW] vector instead of the whole [HW, C] map, and reading the map as stored (channels
        # first, no transposed copy), makes AVST's training step about a third cheaper.
        maps = visual.flatten(2)  # [N, C, HW]
        global_feature = maps.mean(dim=2)  # [N, C]
        norms = torch.linalg.vector_norm(maps, dim=1).clamp_min(1e-12)  # [N, HW], as F.normalize
        sound = F.normalize(audio, dim=-1).unsqueeze(1)  # [N, 1, C]
        cosine = torch.bmm(sound, maps).squeeze(1) / norms  # [N, HW]
        attention = torch.softmax(cosine, dim=-1)  # [N, HW], sums to 1
        grounded = torch.bmm(maps, (attention / norms).unsqueeze(-1)).squeeze(-1)  # [N, C]
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


class AnswerModel(nn.Module):
    """What every answer model shares: its config, the training statistics it standardises
    its features with (kept in the weights), and the features it reads."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.config = config
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

    def feature_statistics(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The statistics the model standardises with (FeatureStore.standardise takes them)."""
        buffers = (self.audio_mean, self.audio_std, self.visual_mean, self.visual_std)
        return tuple(buffer.detach().cpu().numpy() for buffer in buffers)

    @property
    def inputs(self) -> Inputs:
        """The features training reads (at inference, no non-matched visual inputs)."""
        return model_inputs(self.config)

    def standardised(self, features: dict[str, torch.Tensor | None]) -> dict:
        """Raw features standardised with the training statistics (visual maps and pooled
        visual features alike: the mean over the frame commutes with the affine map)."""
        if not self.config.normalize_features:
            return features
        result = dict(features)
        for name, value in features.items():
            if value is None:
                continue
            if name == "audio":
                result[name] = (value - self.audio_mean) / self.audio_std
            elif name == "pooled_visual":
                result[name] = (value - self.visual_mean) / self.visual_std
            else:
                shape = (-1, 1, 1)  # channels first: [..., C, H, W]
                mean, std = self.visual_mean.view(shape), self.visual_std.view(shape)
                result[name] = (value - mean) / std
        return result

    def _prepared(
        self,
        standardised: bool,
        **features: torch.Tensor | None,
    ) -> dict[str, torch.Tensor | None]:
        return features if standardised else self.standardised(features)


class AVST(AnswerModel):
    def __init__(self, config: AVSTConfig) -> None:
        super().__init__(config)
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

    def forward(
        self,
        questions: torch.Tensor,  # [B, L]
        lengths: torch.Tensor,  # [B]
        audio: torch.Tensor | None = None,  # [B, T, 128]
        visual: torch.Tensor | None = None,  # [B, T, 512, 14, 14]
        negative_visual: torch.Tensor | None = None,  # [B, T, 512, 14, 14]
        pooled_visual: torch.Tensor | None = None,  # [B, T, 512]; else pooled from `visual`
        standardised: bool = False,  # the features come standardised (FeatureStore)
    ) -> AVSTOutput:
        config = self.config
        features = self._prepared(
            standardised,
            audio=audio,
            visual=visual,
            negative_visual=negative_visual,
            pooled_visual=pooled_visual,
        )
        audio, visual = features["audio"], features["visual"]
        negative_visual, pooled_visual = features["negative_visual"], features["pooled_visual"]
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
            if pooled_visual is None:
                pooled_visual = visual.mean(dim=(-2, -1))  # [B, T, 512]
            segments["visual"] = torch.tanh(self.visual(pooled_visual))  # [B, T, hidden]

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


# --- AVST+ ---------------------------------------------------------------------------------

MAX_SEGMENTS = 64  # seconds a clip may be sampled at (the default samples 10)


def patch_positions(height: int, width: int, device: torch.device) -> torch.Tensor:
    """[H*W, 16] Fourier features of each patch's place in the frame (x and y in [-1, 1] at
    four frequencies): what lets a look at the frame say *where* it looked."""
    ys = torch.linspace(-1, 1, height, device=device)
    xs = torch.linspace(-1, 1, width, device=device)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).view(-1, 2)  # [HW, 2]
    scaled = grid.unsqueeze(-1) * (torch.pi * 2.0 ** torch.arange(4, device=device))  # [HW,2,4]
    return torch.cat([scaled.sin(), scaled.cos()], dim=-1).flatten(1)  # [HW, 16]


POSITION_FEATURES = 16


class PatchSelection(nn.Module):
    """Per second: several looks at the frame, each guided by the question and the second's
    sound. A look scores every patch by its content and by its place (so "the instrument on
    the left" can look left), and returns what it saw and where."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        self.heads = config.patch_heads
        self.content_query = nn.Linear(2 * config.hidden, self.heads * config.visual_dim)
        self.place_query = nn.Linear(2 * config.hidden, self.heads * POSITION_FEATURES)

    def forward(self, guide: torch.Tensor, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # guide [N, 2*hidden] (question and sound of the second), maps [N, C, H, W]
        count, channels, height, width = maps.shape
        patches = maps.flatten(2)  # [N, C, HW], as stored: no transposed copy of the maps
        places = patch_positions(height, width, maps.device)  # [HW, F]
        content = self.content_query(guide).view(count, self.heads, channels)  # [N, K, C]
        place = self.place_query(guide).view(count, self.heads, POSITION_FEATURES)  # [N, K, F]
        scores = torch.bmm(content, patches) / channels**0.5  # [N, K, HW]
        scores = scores + place @ places.T  # [N, K, HW]
        attention = torch.softmax(scores, dim=-1)
        seen = torch.bmm(patches, attention.transpose(1, 2)).transpose(1, 2)  # [N, K, C]
        where = attention @ places  # [N, K, F]
        looks = torch.cat([seen, where], dim=-1).flatten(1)  # [N, K*(C+F)]
        return looks, attention.mean(dim=1)  # [N, HW] averaged over the looks


class FusionLayer(nn.Module):
    """A pre-norm transformer layer that also returns its attention weights."""

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__()
        hidden = config.hidden
        self.attention = nn.MultiheadAttention(
            hidden, config.heads, dropout=config.dropout, batch_first=True
        )
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden, 2 * hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(2 * hidden, hidden),
        )
        self.norm_attention = nn.LayerNorm(hidden)
        self.norm_feed_forward = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, tokens: torch.Tensor, padding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        normed = self.norm_attention(tokens)
        attended, weights = self.attention(
            normed, normed, normed, key_padding_mask=padding, need_weights=True
        )  # weights [B, S, S], averaged over the heads
        tokens = tokens + self.dropout(attended)
        tokens = tokens + self.dropout(self.feed_forward(self.norm_feed_forward(tokens)))
        return tokens, weights


class AVSTPlus(AnswerModel):
    """AVST with the lessons of later methods (PSTP-Net, TSPM):

    - spatial: each second's frame is looked at several times, guided by the question and by
      that second's sound, with the patches' places in the frame part of what is scored and
      of what is returned (AVST's grounding uses the sound alone and forgets where it looked);
    - temporal: every second's sound and sight carry its position in time, and a
      question-guided gate selects the relevant seconds before fusion (AVST's attention cannot
      tell first from last);
    - fusion: the question's words and each selected second's sound and sight attend to each
      other in a small transformer, whose question token gives the answer (sound and sight stay
      separate tokens, so "is this sound from the instrument in the video" can compare them).

    Narrower than AVST (VARIANTS gives it hidden 256): it trains on a few thousand pairs.
    Answers outside the template's kind are masked as for AVST (qa_model.data).
    """

    KINDS = ("question", "word", "sound", "sight")

    def __init__(self, config: AVSTConfig) -> None:
        super().__init__(config)
        hidden = config.hidden
        self.question = QuestionEncoder(config)
        self.audio = nn.Sequential(
            nn.Linear(config.audio_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
        )
        self.patches = PatchSelection(config)
        looks = config.patch_heads * (config.visual_dim + POSITION_FEATURES)
        self.sight = nn.Sequential(nn.Linear(looks, hidden), nn.LayerNorm(hidden))
        self.time = nn.Embedding(MAX_SEGMENTS, hidden)
        self.gate = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.words = nn.Linear(hidden, hidden)
        self.kind = nn.Embedding(len(self.KINDS), hidden)
        self.fusion = nn.ModuleList(FusionLayer(config) for _ in range(config.fusion_layers))
        self.norm = nn.LayerNorm(hidden)
        self.answer = nn.Linear(hidden, config.answers)

    def forward(
        self,
        questions: torch.Tensor,  # [B, L]
        lengths: torch.Tensor,  # [B]
        audio: torch.Tensor | None = None,  # [B, T, 128]
        visual: torch.Tensor | None = None,  # [B, T, 512, H, W]
        negative_visual: torch.Tensor | None = None,  # unused: no match loss
        pooled_visual: torch.Tensor | None = None,  # unused: the maps are read
        standardised: bool = False,
    ) -> AVSTOutput:
        features = self._prepared(standardised, audio=audio, visual=visual)
        audio, visual = features["audio"], features["visual"]
        batch, count = audio.shape[:2]
        device = questions.device
        question, words = self.question.encode(questions, lengths)  # [B, h], [B, L, h]
        asked = question.unsqueeze(1).expand(batch, count, -1)  # [B, T, h]
        sound = self.audio(audio)  # [B, T, h]
        looks, maps = self.patches(
            torch.cat([asked, sound], dim=-1).flatten(0, 1), visual.flatten(0, 1)
        )
        sight = self.sight(looks.view(batch, count, -1))  # [B, T, h]
        when = self.time(torch.arange(count, device=device))  # [T, h]
        sound, sight = sound + when, sight + when
        # Question-guided selection of the relevant seconds: a gate in (0, 1) per second.
        gate = torch.sigmoid(self.gate(torch.cat([asked, sound, sight], dim=-1)))  # [B, T, 1]
        kind = self.kind.weight
        tokens = torch.cat(
            [
                (question + kind[0]).unsqueeze(1),
                self.words(words) + kind[1],
                sound * gate + kind[2],
                sight * gate + kind[3],
            ],
            dim=1,
        )  # [B, 1 + L + 2T, h]
        positions = torch.arange(questions.shape[1], device=device)
        padding = torch.cat(
            [
                torch.zeros(batch, 1, dtype=torch.bool, device=device),
                positions.unsqueeze(0) >= lengths.to(device).unsqueeze(1),
                torch.zeros(batch, 2 * count, dtype=torch.bool, device=device),
            ],
            dim=1,
        )
        for layer in self.fusion:
            tokens, weights = layer(tokens, padding)
        logits = self.answer(self.norm(tokens[:, 0]))
        # What the question token attended to among the seconds' sound and sight in the last
        # layer: the temporal weights reviewers see.
        attended = weights[:, 0, -2 * count :]
        return AVSTOutput(
            logits=logits,
            audio_weights=_normalised(attended[:, :count]),
            visual_weights=_normalised(attended[:, count:]),
            spatial_maps=maps.view(batch, count, -1),
        )


def _normalised(weights: torch.Tensor) -> torch.Tensor:
    return weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-9)


def build_model(config: AVSTConfig) -> AnswerModel:
    """The network a configuration names (old checkpoints, without one, are AVST)."""
    return AVSTPlus(config) if config.architecture == "avst_plus" else AVST(config)
