"""Synthetic music performances whose every fact is known, and the MUSIC-AVQA records they answer.

A scene places 1–3 visible players at left / middle / right (sometimes two of the same
instrument), and sometimes one more instrument that is heard but not seen, over an indoor or
outdoor background, with an optional voice-over. Each instrument has its own look (shape,
colour and stripe, with its name under it) and its own timbre; each player has its own
loudness, rhythm and sounding schedule (some visible players stay silent). A player glows while
it sounds and pulses with its notes, so sight and sound agree.

From a scene's ground truth, `scene_records` writes correct records for every template the
scene supports, choosing slot values so that yes/no answers are balanced and a question-only
model cannot do well. Where the scenes themselves make one answer common (most scenes have no
off-screen instrument, so "Is this sound from the instrument in the video?" is mostly "yes"),
`balance_answers` trims each template's most common answers, per split, down to the count of
its runner-up: no answer of a template can then be guessed from the question alone. Everything
follows from the seed.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import multiprocessing
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from qa_model import catalogue
from qa_model.catalogue import TEMPLATES, template_fill
from qa_model.media import write_mp4
from qa_model.records import SPLITS, split_of

POSITIONS = ("left", "middle", "right")
COUNT_WORDS = catalogue.COUNTS
_SHAPES = ("circle", "square", "triangle", "diamond")
# Starts and ends fall on the 6-s grid the QA model samples (seconds 0, 6, …, 54), so what
# the features see at each sampled second matches the ground truth.
_STARTS = (0.0, 6.0, 12.0, 18.0, 24.0)
_GAINS = (0.3, 0.55, 0.8, 1.0)
_RHYTHMS = (1, 2, 3, 4)


@dataclass(frozen=True)
class Player:
    """One instrument. `position` None means off-screen: heard, not seen.
    It sounds from `start` to `end` seconds; start == end means silent throughout."""

    instrument: str
    position: str | None
    start: float
    end: float
    gain: float = 1.0
    rhythm: int = 2

    @property
    def sounds(self) -> bool:
        return self.end > self.start

    @property
    def visible(self) -> bool:
        return self.position is not None

    @property
    def sounding_seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Scene:
    seed: int
    duration_seconds: float
    outdoor: bool
    players: tuple[Player, ...] = field(default_factory=tuple)
    voiceover: tuple[float, float] | None = None

    @classmethod
    def random(cls, seed: int, *, duration_seconds: float = 60.0) -> Scene:
        rng = random.Random(seed)
        visible_count = rng.choice((1, 2, 2, 3, 3))
        if visible_count >= 2 and rng.random() < 0.25:
            duet = rng.choice(catalogue.INSTRUMENTS)
            others = [i for i in catalogue.INSTRUMENTS if i != duet]
            instruments = [duet, duet, *rng.sample(others, visible_count - 2)]
            rng.shuffle(instruments)
        else:
            instruments = rng.sample(catalogue.INSTRUMENTS, visible_count)
        positions = sorted(rng.sample(POSITIONS, visible_count), key=POSITIONS.index)
        offscreen = None
        if rng.random() < 0.2:
            offscreen = rng.choice([i for i in catalogue.INSTRUMENTS if i not in instruments])
        count = visible_count + (offscreen is not None)
        gains = rng.sample(_GAINS, count)
        rhythms = rng.sample(_RHYTHMS, count)
        starts = rng.sample(_STARTS, count)
        if 0.0 not in starts and rng.random() < 0.6:
            starts[rng.randrange(count)] = 0.0  # most performances begin with the video
        if visible_count >= 2 and len(set(instruments)) < visible_count and rng.random() < 0.4:
            # A duet that starts together: "Which violin makes the sound first?" → simultaneously.
            twins = [index for index, name in enumerate(instruments) if instruments.count(name) > 1]
            for index in twins:
                starts[index] = starts[twins[0]]
        players = []
        for index in range(count):
            start = starts[index]
            end = rng.choice((duration_seconds, duration_seconds, start + rng.choice((24.0, 30.0))))
            end = min(end, duration_seconds)
            if index < visible_count and visible_count >= 2 and rng.random() < 0.15:
                start = end = 0.0  # on stage, but silent throughout
            players.append(
                Player(
                    instrument=instruments[index] if index < visible_count else offscreen,
                    position=positions[index] if index < visible_count else None,
                    start=start,
                    end=end,
                    gain=gains[index],
                    rhythm=rhythms[index],
                )
            )
        if not any(player.sounds for player in players):
            first = players[0]
            players[0] = Player(
                first.instrument, first.position, 0.0, duration_seconds, first.gain, first.rhythm
            )
        voiceover = None
        if rng.random() < 0.25:
            begin = rng.choice((6.0, 12.0, 30.0))
            voiceover = (begin, begin + rng.choice((12.0, 18.0)))
        return cls(seed, duration_seconds, rng.random() < 0.4, tuple(players), voiceover)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Scene:
        players = tuple(Player(**player) for player in data["players"])
        voiceover = tuple(data["voiceover"]) if data.get("voiceover") else None
        return cls(data["seed"], data["duration_seconds"], data["outdoor"], players, voiceover)


# --- looks and sounds of the 22 instruments -------------------------------------------------


def instrument_look(instrument: str) -> tuple[str, tuple[int, int, int], tuple[int, int, int]]:
    """Shape, body colour and stripe colour: distinct for each of the 22 instruments."""
    index = catalogue.INSTRUMENTS.index(instrument)
    hue = ((index * 5) % 22) / 22
    body = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.8, 0.85))
    stripe = tuple(
        int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.5) % 1, 0.3, 1.0 - (index % 3) * 0.35)
    )
    return _SHAPES[index % len(_SHAPES)], body, stripe


def instrument_voice(instrument: str) -> tuple[float, np.ndarray, float, float]:
    """Fundamental (Hz), harmonic amplitudes, note decay (1/s) and noise share of its timbre."""
    index = catalogue.INSTRUMENTS.index(instrument)
    fundamental = 98.0 * 2 ** ((index * 7 % 22) / 8)  # spread over almost three octaves
    tilt = 0.4 + 0.15 * (index % 6)
    harmonics = np.array([1.0 / order**tilt for order in range(1, 9)])
    if index % 2:
        harmonics[1::2] *= 0.15  # hollow, clarinet-like: weak even harmonics
    decay = (2.0, 5.0, 9.0)[index % 3]
    noise = 0.6 if instrument in ("drum", "congas") else 0.0
    return fundamental, harmonics, decay, noise


# --- rendering ------------------------------------------------------------------------------


def _note_envelope(player: Player, time: np.ndarray) -> np.ndarray:
    """Loudness over time: decaying notes at the player's rhythm, zero outside its schedule."""
    if not player.sounds:
        return np.zeros_like(time)
    _, _, decay, _ = instrument_voice(player.instrument)
    phase = ((time - player.start) * player.rhythm) % 1.0 / player.rhythm
    active = (time >= player.start) & (time < player.end)
    return np.exp(-decay * phase) * active


def render_audio(scene: Scene, sample_rate: int = 16000) -> np.ndarray:
    """The scene's mono soundtrack, float32 in [-1, 1]. Fixed scaling, so gains stay audible."""
    time = np.arange(int(scene.duration_seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(scene.seed)
    mix = np.zeros_like(time)
    for player in scene.players:
        fundamental, harmonics, _, noise = instrument_voice(player.instrument)
        tone = sum(
            a * np.sin(2 * np.pi * fundamental * k * time) for k, a in enumerate(harmonics, 1)
        )
        tone = tone / np.sum(harmonics)
        if noise:
            tone = (1 - noise) * tone + noise * rng.standard_normal(time.size) * 0.5
        mix += player.gain * _note_envelope(player, time) * tone
    if scene.voiceover:
        mix += 0.5 * _voice(scene.voiceover, time, rng)
    return np.clip(mix / 2.0, -1.0, 1.0).astype(np.float32)


def _voice(span: tuple[float, float], time: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A speech-like voice: a gliding pitch through two formants, in 4-Hz syllables."""
    active = (time >= span[0]) & (time < span[1])
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * time + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / (1 / (time[1] - time[0]))
    voice = np.zeros_like(time)
    for order in range(1, 25):
        frequency = pitch * order
        formants = np.exp(-(((frequency - 550) / 180) ** 2)) + 0.6 * np.exp(
            -(((frequency - 1700) / 300) ** 2)
        )
        voice += formants * np.sin(order * phase)
    syllables = np.clip(np.sin(2 * np.pi * 4 * time), 0, None) ** 0.5
    return voice / 3.0 * syllables * active


def _background(scene: Scene, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(scene.seed)
    jitter = rng.integers(-20, 21, size=3)
    image = np.zeros((height, width, 3), dtype=np.int16)
    horizon = int(height * 0.62)
    if scene.outdoor:
        image[:horizon] = np.array((135, 190, 235)) + jitter  # sky
        image[horizon:] = np.array((70, 140, 60)) + jitter  # grass
    else:
        image[:horizon] = np.array((205, 180, 150)) + jitter  # wall
        image[horizon:] = np.array((120, 85, 60)) + jitter  # wooden floor
    return np.clip(image, 0, 255).astype(np.uint8)


def _sprite(instrument: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An instrument's picture: [size, size, 3] colours and a [size, size] coverage mask."""
    shape, body, stripe = instrument_look(instrument)
    colours = Image.new("RGB", (size, size), body)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    box = (2, 2, size - 3, size - 3)
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "square":
        draw.rectangle(box, fill=255)
    elif shape == "triangle":
        draw.polygon([(size // 2, 2), (size - 3, size - 3), (2, size - 3)], fill=255)
    else:
        draw.polygon(
            [(size // 2, 2), (size - 3, size // 2), (size // 2, size - 3), (2, size // 2)], fill=255
        )
    ImageDraw.Draw(colours).rectangle((0, size * 2 // 5, size, size * 3 // 5), fill=stripe)
    return np.asarray(colours, np.float32), np.asarray(mask, np.float32)[..., None] / 255.0


def render_frames(
    scene: Scene, *, fps: int, width: int = 320, height: int = 180
) -> Iterator[np.ndarray]:
    """Yield the scene's RGB frames ([H, W, 3] uint8)."""
    canvas = Image.fromarray(_background(scene, width, height))
    draw = ImageDraw.Draw(canvas)
    size = height // 3
    placed = []
    for player in scene.players:
        if not player.visible:
            continue
        centre = int(width * (POSITIONS.index(player.position) * 2 + 1) / 6)
        top, left = int(height * 0.33), centre - size // 2
        draw.text((left, top + size + 4), player.instrument.replace("_", " "), fill=(20, 20, 20))
        placed.append((player, *_sprite(player.instrument, size), top, left))
    base = np.asarray(canvas, dtype=np.float32)
    for moment in np.arange(int(scene.duration_seconds * fps)) / fps:
        frame = base.copy()
        for player, colours, mask, top, left in placed:
            notes = float(_note_envelope(player, np.array([moment]))[0])
            sounding = player.start <= moment < player.end
            brightness = (0.85 + 0.15 * notes) if sounding else 0.4
            region = frame[top : top + size, left : left + size]
            region[:] = region * (1 - mask) + colours * brightness * mask
        yield frame.astype(np.uint8)


def render_scene(
    scene: Scene, path: str | Path, *, fps: int = 12, sample_rate: int = 16000
) -> Path:
    """Render a scene to an H.264 + AAC MP4 at `path` (written atomically)."""
    frames = render_frames(scene, fps=fps)
    return write_mp4(
        path, frames, render_audio(scene, sample_rate), fps=fps, sample_rate=sample_rate
    )


# --- ground truth → records -----------------------------------------------------------------


class _Facts:
    """Questions a scene can answer, in the terms of the templates."""

    def __init__(self, scene: Scene, rng: random.Random) -> None:
        self.scene, self.rng = scene, rng
        self.visible = sorted(
            (p for p in scene.players if p.visible), key=lambda p: POSITIONS.index(p.position)
        )
        self.heard = [p for p in scene.players if p.sounds]
        self.visible_sounding = [p for p in self.visible if p.sounds]

    # Instruments that name exactly one visible player ("the cello") can be asked about.
    def unique_visible(self, players: list[Player] | None = None) -> list[Player]:
        names = [p.instrument for p in self.visible]
        return [
            p
            for p in (self.visible if players is None else players)
            if names.count(p.instrument) == 1
        ]

    def absent(self, *present: str) -> str:
        return self.rng.choice([i for i in catalogue.INSTRUMENTS if i not in present])

    def yes_or_no(self, yes: Callable[[], list | None], no: Callable[[], list | None]):
        """Slot values for a yes (or no) answer, choosing between them at random when both exist."""
        options = [(values, answer) for values, answer in ((yes(), "yes"), (no(), "no")) if values]
        return self.rng.choice(options) if options else None

    def ordered(self, players: list[Player]) -> list[Player] | None:
        """Players by start time, if no two start together."""
        starts = [p.start for p in players]
        return sorted(players, key=lambda p: p.start) if len(set(starts)) == len(starts) else None

    def neighbour(self, player: Player, side: str) -> Player | None:
        index = self.visible.index(player) + (-1 if side == "left" else 1)
        return self.visible[index] if 0 <= index < len(self.visible) else None


def _count(number: int) -> str:
    return COUNT_WORDS[number] if number <= 10 else "more than ten"


def _compare(facts: _Facts, players: list[Player], key: Callable[[Player], float], describe):
    """Two players whose `key` differs, in random order; yes when the first has more."""
    pairs = [(a, b) for a in players for b in players if a is not b and key(a) != key(b)]
    if not pairs:
        return None
    first, second = facts.rng.choice(pairs)
    return describe(first) + describe(second), "yes" if key(first) > key(second) else "no"


def _answers(facts: _Facts) -> dict[int, tuple[list[str], str] | None]:
    """Template number → (slot values, answer), or None where the scene cannot answer it."""
    scene, rng, visible, heard = facts.scene, facts.rng, facts.visible, facts.heard
    heard_names = {p.instrument for p in heard}
    visible_names = {p.instrument for p in visible}
    named_heard = [
        p for p in heard if [q.instrument for q in scene.players].count(p.instrument) == 1
    ]
    sounding = facts.visible_sounding
    unique_sounding = facts.unique_visible(sounding)
    order = facts.ordered(sounding) if len(sounding) >= 2 else None
    answers: dict[int, tuple[list[str], str] | None] = {}

    answers[1] = facts.yes_or_no(
        lambda: [rng.choice(sorted(heard_names))], lambda: [facts.absent(*heard_names)]
    )
    answers[2] = ([], _count(len(heard)))
    answers[3] = facts.yes_or_no(
        lambda: rng.sample(sorted(heard_names), 2) if len(heard_names) >= 2 else None,
        lambda: rng.sample([rng.choice(sorted(heard_names)), facts.absent(*heard_names)], 2),
    )
    answers[4] = _compare(facts, named_heard, lambda p: p.gain, lambda p: [p.instrument])
    answers[5] = _compare(facts, named_heard, lambda p: p.rhythm, lambda p: [p.instrument])
    answers[6] = _compare(
        facts, named_heard, lambda p: p.sounding_seconds, lambda p: [p.instrument]
    )
    answers[7] = facts.yes_or_no(
        lambda: [rng.choice(sorted(visible_names))], lambda: [facts.absent(*visible_names)]
    )
    answers[8] = facts.yes_or_no(
        lambda: rng.sample(sorted(visible_names), 2) if len(visible_names) >= 2 else None,
        lambda: rng.sample([rng.choice(sorted(visible_names)), facts.absent(*visible_names)], 2),
    )
    answers[9] = ([], _count(len(visible_names)))
    asked = (
        rng.choice(sorted(visible_names)) if rng.random() < 0.8 else facts.absent(*visible_names)
    )
    answers[10] = ([asked], _count(sum(p.instrument == asked for p in visible)))
    answers[11] = ([], "outdoor" if scene.outdoor else "indoor")
    beside = [
        (p, side, facts.neighbour(p, side))
        for p in facts.unique_visible()
        for side in ("left", "right")
        if facts.neighbour(p, side)
    ]
    if beside:
        player, side, other = rng.choice(beside)
        answers[12] = ([side, player.instrument], other.instrument)
    answers[13] = ([], visible[0].instrument) if len(visible_names) == 1 else None
    if len(visible) >= 2:
        side = rng.choice(("leftest", "rightest"))
        answers[14] = ([side], (visible[0] if side == "leftest" else visible[-1]).instrument)
    offscreen = any(p.sounds and not p.visible for p in scene.players)
    answers[15] = ([], "no" if offscreen else "yes")

    def always_playing(player: Player) -> bool:
        return player.start == 0 and player.end >= scene.duration_seconds

    answers[16] = facts.yes_or_no(
        lambda: [p.instrument for p in facts.unique_visible() if always_playing(p)][:1],
        lambda: [p.instrument for p in facts.unique_visible() if not always_playing(p)][:1],
    )
    answers[17] = ([], "yes" if scene.voiceover else "no")
    answers[18] = ([], _count(len(sounding)))
    answers[19] = ([], _count(len(heard_names)))
    answers[20] = ([], _count(sum(not p.sounds for p in visible)))
    asked = (
        rng.choice(sorted(visible_names)) if rng.random() < 0.8 else facts.absent(*visible_names)
    )
    answers[21] = ([asked], _count(sum(p.instrument == asked for p in sounding)))
    if len(sounding) >= 2:
        extreme = rng.choice(("loudest", "lowest"))
        chosen = (max if extreme == "loudest" else min)(sounding, key=lambda p: p.gain)
        answers[22] = ([extreme], chosen.position)
    if order:
        which = rng.choice(("first", "last"))
        player = order[0] if which == "first" else order[-1]
        other_sides = [side for side in POSITIONS if side != player.position]
        answers[23] = facts.yes_or_no(
            lambda: [which, player.position], lambda: [which, rng.choice(other_sides)]
        )
        answers[30] = ([which], player.position)
        beside = [(side, facts.neighbour(player, side)) for side in ("left", "right")]
        beside = [(side, other) for side, other in beside if other]
        if beside:
            side, other = rng.choice(beside)
            answers[25] = ([side, which], other.instrument)
        rank = rng.randrange(min(len(order), 5))
        answers[33] = ([catalogue.SLOT_VALUES["TH"][rank]], order[rank].instrument)
        candidates = []
        for index, player in enumerate(order):
            if player in unique_sounding:
                if index > 0:
                    candidates.append((["before", player.instrument], order[index - 1].instrument))
                if index + 1 < len(order):
                    candidates.append((["after", player.instrument], order[index + 1].instrument))
        answers[32] = rng.choice(candidates) if candidates else None
    together = []
    for player in unique_sounding:
        overlapping = [
            other
            for other in sounding
            if other is not player and other.start < player.end and player.start < other.end
        ]
        if len(overlapping) == 1 and overlapping[0].instrument != player.instrument:
            together.append(([player.instrument], overlapping[0].instrument))
    answers[24] = rng.choice(together) if together else None
    answers[26] = _compare(facts, sounding, lambda p: p.rhythm, lambda p: [p.position])
    answers[27] = _compare(facts, sounding, lambda p: p.gain, lambda p: [p.position])
    answers[28] = _compare(
        facts, sounding, lambda p: p.rhythm, lambda p: [p.instrument, p.position]
    )
    answers[29] = _compare(facts, sounding, lambda p: p.gain, lambda p: [p.instrument, p.position])
    twins = [name for name in visible_names if sum(p.instrument == name for p in sounding) >= 2]
    if twins:
        name = rng.choice(twins)
        group = [p for p in sounding if p.instrument == name]
        which = rng.choice(("first", "last"))
        starts = sorted({p.start for p in group})
        if len(starts) == 1:
            answers[31] = ([name, which], "simultaneously")
        else:
            target = starts[0] if which == "first" else starts[-1]
            winners = [p for p in group if p.start == target]
            if len(winners) == 1:
                answers[31] = ([name, which], winners[0].position)
    return answers


def scene_records(scene: Scene, video_id: str, first_question_id: int) -> list[dict]:
    """MUSIC-AVQA records (docs/dataset-format.md) for every template this scene can answer."""
    rng = random.Random(f"records-{scene.seed}")
    answers = _answers(_Facts(scene, rng))
    records = []
    for spec in TEMPLATES:
        answer = answers.get(spec.number)
        if answer is None:
            continue
        values, text = answer
        assert len(values) == len(spec.slots) and text in spec.answers, (spec.number, answer)
        records.append(
            {
                "video_id": video_id,
                "question_id": first_question_id + spec.number,
                "type": json.dumps([spec.modality, spec.question_type]),
                "question_content": spec.text,
                "templ_values": json.dumps(values),
                "question_deleted": 0,
                "anser": text,
            }
        )
    return records


def question_text(record: dict) -> str:
    return template_fill(record["question_content"], json.loads(record["templ_values"]))


# --- datasets -------------------------------------------------------------------------------


def balance_answers(records: list[dict]) -> list[dict]:
    """The records with no answer of a template more frequent than that template's second most
    frequent answer (yes/no templates end exactly even). Which records go is decided by a hash
    of their question id, so the same records always stay; the order is kept."""
    by_template: dict[str, dict[str, list[dict]]] = {}
    for record in records:
        answers = by_template.setdefault(record["question_content"], {})
        answers.setdefault(record["anser"], []).append(record)
    kept: set[int] = set()
    for answers in by_template.values():
        sizes = sorted((len(group) for group in answers.values()), reverse=True)
        cap = sizes[1] if len(sizes) > 1 else sizes[0]
        for group in answers.values():
            ranked = sorted(
                group, key=lambda r: hashlib.sha256(str(r["question_id"]).encode()).digest()
            )
            kept.update(r["question_id"] for r in ranked[:cap])
    return [record for record in records if record["question_id"] in kept]


def _render_one(job: tuple[int, float, str, int]) -> None:
    seed, duration_seconds, path, fps = job
    render_scene(Scene.random(seed, duration_seconds=duration_seconds), path, fps=fps)


def synthesize(
    out_dir: str | Path,
    *,
    videos: int,
    seed: int = 0,
    duration_seconds: float = 60.0,
    fps: int = 8,
    workers: int = 1,
    on_video: Callable[[str], None] | None = None,
    balanced: bool = True,
) -> dict[str, int]:
    """Render `videos` scenes into out_dir/videos/ and write their records.

    Writes avqa-train.json, avqa-val.json, avqa-test.json (split by video, each split's answers
    balanced within each template unless `balanced` is False) and scenes.json (the ground
    truth). Videos already rendered are kept. With `workers` > 1 the clips are
    rendered in that many processes (encoding is CPU-bound, one core per clip); the records do
    not depend on it. Returns the record count per split.
    """
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[dict]] = {split: [] for split in SPLITS}
    scenes = {}
    pending = []
    for index in range(videos):
        video_id = f"syn{seed:03d}{index:05d}"
        scene_seed = seed * 1_000_003 + index
        scene = Scene.random(scene_seed, duration_seconds=duration_seconds)
        records = scene_records(scene, video_id, first_question_id=(index + 1) * 100)
        by_split[split_of(video_id)].extend(records)
        scenes[video_id] = scene.to_json()
        clip = out / "videos" / f"{video_id}.mp4"
        if clip.exists():
            if on_video:
                on_video(video_id)
        else:
            pending.append((video_id, (scene_seed, duration_seconds, str(clip), fps)))
    if workers > 1 and len(pending) > 1:
        # Spawned, not forked: the parent may hold torch's thread pools, which fork can wedge.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(pending)), mp_context=context) as pool:
            futures = {pool.submit(_render_one, job): video_id for video_id, job in pending}
            for future in as_completed(futures):
                future.result()
                if on_video:
                    on_video(futures[future])
    else:
        for video_id, job in pending:
            _render_one(job)
            if on_video:
                on_video(video_id)
    if balanced:
        by_split = {split: balance_answers(records) for split, records in by_split.items()}
    for split, records in by_split.items():
        (out / f"avqa-{split}.json").write_text(json.dumps(records, indent=1))
    (out / "scenes.json").write_text(json.dumps(scenes))
    return {split: len(records) for split, records in by_split.items()}
