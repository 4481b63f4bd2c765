"""The annotator guidelines: per modality, its templates by type, what each slot means, and a
worked example of each type, taken from a synthetic performance whose every fact is known.

Built from the catalogue, so the page lists exactly the templates and answers the rules accept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

from qa_model import catalogue
from qa_model.synthetic import POSITIONS, Scene, scene_records

# What each slot of a template asks for, in the annotator's words.
SLOT_MEANINGS: dict[str, str] = {
    "Object": "an instrument, by name (one of the 22 the dataset knows)",
    "LR": "where in the frame, as you look at it: left, middle or right",
    "LL": "by sound: the loudest or the lowest (quietest) instrument",
    "FL": "in time: the first or the last to start sounding",
    "TH": "in time: the first, second, third … instrument to come in",
    "BA": "in time: before or after another instrument starts",
    "LRer": "the leftmost or the rightmost instrument in the frame",
}

MODALITY_GUIDES: dict[str, str] = {
    catalogue.AUDIO: "Answer from what you hear. The picture helps only to name instruments.",
    catalogue.VISUAL: "Answer from what you see. Count and place what is on screen.",
    catalogue.AUDIO_VISUAL: (
        "Answer from both: which instrument you see is making the sound you hear, where it is, "
        "and when it plays. These are the questions the dataset exists for."
    ),
}

# The performance the worked examples describe (a fixed seed, so the page never changes).
EXAMPLE_SEED = 1


@dataclass
class Example:
    question: str
    answer: str


@dataclass
class TypeGuide:
    question_type: str
    templates: list[catalogue.TemplateSpec]
    example: Example | None


@dataclass
class ModalityGuide:
    modality: str
    guide: str
    types: list[TypeGuide] = field(default_factory=list)


def example_scene() -> list[str]:
    """The example performance, one line per instrument."""
    scene = Scene.random(EXAMPLE_SEED)
    lines = []
    for player in sorted(
        scene.players, key=lambda p: POSITIONS.index(p.position) if p.position else 9
    ):
        name = player.instrument.replace("_", " ")
        if not player.visible:
            where = "heard but not seen"
        else:
            where = "in the middle" if player.position == "middle" else f"on the {player.position}"
        if not player.sounds:
            lines.append(f"A {name} {where}, silent throughout.")
            continue
        if player.start == 0 and player.end >= scene.duration_seconds:
            when = "from start to end"
        else:
            when = f"from {player.start:.0f} s to {player.end:.0f} s"
        notes = f"{player.rhythm} note{'s' if player.rhythm > 1 else ''} a second"
        how = f"at {player.gain:.0%} volume, {notes}"
        lines.append(f"A {name} {where}, playing {when} {how}.")
    lines.append("Outdoors." if scene.outdoor else "Indoors.")
    if scene.voiceover:
        lines.append(
            f"A voice speaks from {scene.voiceover[0]:.0f} s to {scene.voiceover[1]:.0f} s."
        )
    return lines


@cache
def modality_guides() -> tuple[ModalityGuide, ...]:
    records = scene_records(Scene.random(EXAMPLE_SEED), "example", 0)
    examples: dict[tuple[str, str], Example] = {}
    for record in records:
        spec = catalogue.TEMPLATES_BY_TEXT[record["question_content"]]
        key = (spec.modality, spec.question_type)
        if key not in examples:
            values = json.loads(record["templ_values"])
            question = catalogue.template_fill(spec.text, values).replace("_", " ")
            examples[key] = Example(question, record["anser"].replace("_", " "))
    guides = []
    for modality in (catalogue.AUDIO, catalogue.VISUAL, catalogue.AUDIO_VISUAL):
        guide = ModalityGuide(modality, MODALITY_GUIDES[modality])
        for question_type in catalogue.QUESTION_TYPES:
            templates = [
                spec
                for spec in catalogue.TEMPLATES
                if spec.modality == modality and spec.question_type == question_type
            ]
            if templates:
                example = examples.get((modality, question_type))
                guide.types.append(TypeGuide(question_type, templates, example))
        guides.append(guide)
    return tuple(guides)
