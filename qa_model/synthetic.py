"""Synthetic music-performance scenes: clips whose every fact is known.

A scene places 1–3 instruments at left / middle / right over an indoor or outdoor background.
Each instrument has its own look (shape and colour, with its name under it) and its own sound
(a harmonic timbre and a rhythm), and sounds on its own schedule; a sounding instrument glows
with its notes, so sight and sound agree. Everything follows from the seed.
"""

from __future__ import annotations

import colorsys
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from qa_model import catalogue
from qa_model.media import write_mp4

POSITIONS = ("left", "middle", "right")
_SHAPES = ("circle", "square", "triangle", "diamond")


@dataclass(frozen=True)
class Player:
    """One instrument in a scene and when it sounds (seconds; start == end means silent)."""

    instrument: str
    position: str
    start: float
    end: float

    @property
    def is_silent(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Scene:
    seed: int
    duration_seconds: float
    outdoor: bool
    players: tuple[Player, ...] = field(default_factory=tuple)

    @classmethod
    def random(cls, seed: int, *, duration_seconds: float = 60.0) -> Scene:
        rng = random.Random(seed)
        count = rng.choice((1, 2, 2, 3))
        instruments = rng.sample(catalogue.INSTRUMENTS, count)
        positions = sorted(rng.sample(POSITIONS, count), key=POSITIONS.index)
        players = []
        for instrument, position in zip(instruments, positions, strict=True):
            if count > 1 and rng.random() < 0.15:
                start = end = 0.0
            else:
                start = rng.choice((0.0, 0.0, round(rng.uniform(1, duration_seconds / 3), 1)))
                end = rng.choice(
                    (duration_seconds, round(rng.uniform(start + 10, duration_seconds), 1))
                )
            players.append(Player(instrument, position, start, end))
        return cls(seed, duration_seconds, rng.random() < 0.4, tuple(players))


def _instrument_look(instrument: str) -> tuple[str, tuple[int, int, int]]:
    index = catalogue.INSTRUMENTS.index(instrument)
    hue = (index * 7 % 22) / 22
    rgb = _hsv_to_rgb(hue, 0.75, 0.9)
    return _SHAPES[index % len(_SHAPES)], rgb


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(red * 255), int(green * 255), int(blue * 255)


def _instrument_voice(instrument: str) -> tuple[float, np.ndarray, float]:
    """Fundamental (Hz), harmonic amplitudes, and notes per second for an instrument."""
    index = catalogue.INSTRUMENTS.index(instrument)
    fundamental = 110.0 * 2 ** ((index * 5 % 24) / 12)
    harmonics = np.array([1.0 / (k ** (0.6 + 0.1 * (index % 5))) for k in range(1, 7)])
    return fundamental, harmonics, 1.0 + (index % 4)


def render_audio(scene: Scene, sample_rate: int = 16000) -> np.ndarray:
    """The scene's mono soundtrack, float32 in [-1, 1]."""
    total = int(scene.duration_seconds * sample_rate)
    time = np.arange(total) / sample_rate
    mix = np.zeros(total, dtype=np.float64)
    for player in scene.players:
        mix += _player_envelope(player, time) * _player_tone(player, time)
    peak = np.max(np.abs(mix)) or 1.0
    return (0.8 * mix / peak).astype(np.float32)


def _player_tone(player: Player, time: np.ndarray) -> np.ndarray:
    fundamental, harmonics, _ = _instrument_voice(player.instrument)
    tone = np.zeros_like(time)
    for order, amplitude in enumerate(harmonics, start=1):
        tone += amplitude * np.sin(2 * np.pi * fundamental * order * time)
    return tone


def _player_envelope(player: Player, time: np.ndarray) -> np.ndarray:
    """1 while a note sounds, decaying between beats; 0 outside the player's schedule."""
    if player.is_silent:
        return np.zeros_like(time)
    _, _, notes_per_second = _instrument_voice(player.instrument)
    phase = (time * notes_per_second) % 1.0
    envelope = np.exp(-4.0 * phase)
    active = (time >= player.start) & (time < player.end)
    return envelope * active


def _background(scene: Scene, width: int, height: int) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    horizon = int(height * 0.62)
    if scene.outdoor:
        image[:horizon] = (135, 190, 235)  # sky
        image[horizon:] = (70, 140, 60)  # grass
    else:
        image[:horizon] = (205, 180, 150)  # wall
        image[horizon:] = (120, 85, 60)  # wooden floor
    return image


def _sprite_mask(shape: str, size: int) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    box = (2, 2, size - 3, size - 3)
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "square":
        draw.rectangle(box, fill=255)
    elif shape == "triangle":
        draw.polygon([(size // 2, 2), (size - 3, size - 3), (2, size - 3)], fill=255)
    else:
        draw.polygon(
            [(size // 2, 2), (size - 3, size // 2), (size // 2, size - 3), (2, size // 2)],
            fill=255,
        )
    return np.asarray(canvas, dtype=np.float32) / 255.0


def render_frames(scene: Scene, *, fps: int, width: int = 320, height: int = 180):
    """Yield the scene's RGB frames ([H, W, 3] uint8)."""
    base = _background(scene, width, height)
    label_layer = Image.fromarray(base.copy())
    draw = ImageDraw.Draw(label_layer)
    size = height // 3
    placements = []
    for player in scene.players:
        shape, colour = _instrument_look(player.instrument)
        centre_x = int(width * (POSITIONS.index(player.position) * 2 + 1) / 6)
        top, left = int(height * 0.35), centre_x - size // 2
        draw.text((left, top + size + 4), player.instrument.replace("_", " "), fill=(20, 20, 20))
        placements.append(
            (player, _sprite_mask(shape, size), np.array(colour, np.float32), top, left)
        )
    base = np.asarray(label_layer, dtype=np.float32)
    frame_times = np.arange(int(scene.duration_seconds * fps)) / fps
    for moment in frame_times:
        frame = base.copy()
        for player, mask, colour, top, left in placements:
            glow = float(_player_envelope(player, np.array([moment]))[0])
            tint = colour * (0.45 + 0.55 * glow)
            region = frame[top : top + size, left : left + size]
            region[:] = region * (1 - mask[..., None]) + tint * mask[..., None]
        yield frame.astype(np.uint8)


def render_scene(
    scene: Scene, path: str | Path, *, fps: int = 12, sample_rate: int = 16000
) -> Path:
    """Render a scene to an H.264 + AAC MP4 at `path` (written atomically)."""
    return write_mp4(
        path,
        render_frames(scene, fps=fps),
        render_audio(scene, sample_rate),
        fps=fps,
        sample_rate=sample_rate,
    )
