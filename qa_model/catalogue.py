"""The MUSIC-AVQA catalogue: the 33 question templates, their slot kinds and the 42 answers.

This module is the single source of truth for both sides of the record-format boundary: the
annotator app loads it into its database (a data migration), and the ML code uses it for
synthetic records and evaluation. Plain Python, no Django.

Template strings are copied literally from the public release, including the full-width `？`
and the two templates that end with a space, because records match on the exact string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INSTRUMENTS: tuple[str, ...] = (
    "accordion",
    "acoustic_guitar",
    "bagpipe",
    "banjo",
    "bassoon",
    "cello",
    "clarinet",
    "congas",
    "drum",
    "electric_bass",
    "erhu",
    "flute",
    "guzheng",
    "piano",
    "pipa",
    "saxophone",
    "suona",
    "trumpet",
    "tuba",
    "ukulele",
    "violin",
    "xylophone",
)

# Slot name (as written between angle brackets in a template) -> its legal values.
SLOT_VALUES: dict[str, tuple[str, ...]] = {
    "Object": INSTRUMENTS,
    "LR": ("left", "middle", "right"),
    "LL": ("loudest", "lowest"),
    "FL": ("first", "last"),
    "TH": ("first", "second", "third", "fourth", "fifth"),
    "BA": ("before", "after"),
    "LRer": ("leftest", "rightest"),
}

COUNTS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "more than ten",
)

# The 42-word answer vocabulary, in the order the paper lists it.
ANSWERS: tuple[str, ...] = (
    "yes",
    "no",
    *COUNTS,
    "left",
    "right",
    "middle",
    "indoor",
    "outdoor",
    "simultaneously",
    *INSTRUMENTS,
)

YES_NO = "yes_no"
COUNT = "count"
INDOOR_OUTDOOR = "indoor_outdoor"
INSTRUMENT = "instrument"
LEFT_MIDDLE_RIGHT = "left_middle_right"
LEFT_MIDDLE_RIGHT_SIMULTANEOUSLY = "left_middle_right_simultaneously"

# Each template admits only the answers of its kind (docs/dataset-format.md, rule A1).
ANSWER_KINDS: dict[str, tuple[str, ...]] = {
    YES_NO: ("yes", "no"),
    COUNT: COUNTS,
    INDOOR_OUTDOOR: ("indoor", "outdoor"),
    INSTRUMENT: INSTRUMENTS,
    LEFT_MIDDLE_RIGHT: ("left", "middle", "right"),
    LEFT_MIDDLE_RIGHT_SIMULTANEOUSLY: ("left", "middle", "right", "simultaneously"),
}

ANSWER_KIND_LABELS: dict[str, str] = {
    YES_NO: "yes / no",
    COUNT: "a count",
    INDOOR_OUTDOOR: "indoor / outdoor",
    INSTRUMENT: "an instrument",
    LEFT_MIDDLE_RIGHT: "left / middle / right",
    LEFT_MIDDLE_RIGHT_SIMULTANEOUSLY: "left / middle / right / simultaneously",
}

AUDIO = "Audio"
VISUAL = "Visual"
AUDIO_VISUAL = "Audio-Visual"
MODALITIES: tuple[str, ...] = (AUDIO, VISUAL, AUDIO_VISUAL)

COUNTING = "Counting"
COMPARATIVE = "Comparative"
LOCATION = "Location"
EXISTENTIAL = "Existential"
TEMPORAL = "Temporal"
QUESTION_TYPES: tuple[str, ...] = (EXISTENTIAL, LOCATION, COUNTING, COMPARATIVE, TEMPORAL)

# The nine (modality, type) pairs of the paper's Table 2, in its column order.
TABLE2_TYPES: tuple[tuple[str, str], ...] = (
    (AUDIO, COUNTING),
    (AUDIO, COMPARATIVE),
    (VISUAL, COUNTING),
    (VISUAL, LOCATION),
    (AUDIO_VISUAL, EXISTENTIAL),
    (AUDIO_VISUAL, LOCATION),
    (AUDIO_VISUAL, COUNTING),
    (AUDIO_VISUAL, COMPARATIVE),
    (AUDIO_VISUAL, TEMPORAL),
)

_SLOT = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class TemplateSpec:
    """One question template: its catalogue number is its stable id everywhere."""

    number: int
    modality: str
    question_type: str
    text: str
    answer_kind: str

    @property
    def slots(self) -> tuple[str, ...]:
        return template_slots(self.text)

    @property
    def answers(self) -> tuple[str, ...]:
        return ANSWER_KINDS[self.answer_kind]


def template_slots(text: str) -> tuple[str, ...]:
    """The slot names of a template in reading order, e.g. ("Object", "LR", "Object", "LR")."""
    return tuple(_SLOT.findall(text))


def template_fill(text: str, values: list[str] | tuple[str, ...]) -> str:
    """Fill placeholders left to right, as MUSIC-AVQA records do."""
    remaining = iter(values)
    return _SLOT.sub(lambda _match: next(remaining), text)


_T = TemplateSpec
# One row per template, in catalogue order, left as a table (the marker on its closing line):
# the formatter would spread each wrapped row over seven lines, one argument a line.
TEMPLATES: tuple[TemplateSpec, ...] = (
    _T(1, AUDIO, COUNTING, "Is there a <Object> sound?", YES_NO),
    _T(2, AUDIO, COUNTING, "How many musical instruments were heard throughout the video?", COUNT),
    _T(3, AUDIO, COUNTING, "Are there <Object> and <Object> sound? ", YES_NO),
    _T(4, AUDIO, COMPARATIVE, "Is the <Object> louder than the <Object>?", YES_NO),
    _T(5, AUDIO, COMPARATIVE, "Is the <Object> more rhythmic than the <Object>?", YES_NO),
    _T(6, AUDIO, COMPARATIVE, "Is the <Object> playing longer than the <Object>?", YES_NO),
    _T(7, VISUAL, COUNTING, "Is there a <Object> in the entire video?", YES_NO),
    _T(8, VISUAL, COUNTING, "Are there <Object> and <Object> instruments in the video?", YES_NO),
    _T(9, VISUAL, COUNTING,
       "How many types of musical instruments appeared in the entire video?", COUNT),
    _T(10, VISUAL, COUNTING, "How many <Object> are in the entire video?", COUNT),
    _T(11, VISUAL, LOCATION, "Where is the performance?", INDOOR_OUTDOOR),
    _T(12, VISUAL, LOCATION, "What is the instrument on the <LR> of <Object>?", INSTRUMENT),
    _T(13, VISUAL, LOCATION, "What kind of musical instrument is it?", INSTRUMENT),
    _T(14, VISUAL, LOCATION, "What kind of instrument is the <LRer> instrument? ", INSTRUMENT),
    _T(15, AUDIO_VISUAL, EXISTENTIAL, "Is this sound from the instrument in the video?", YES_NO),
    _T(16, AUDIO_VISUAL, EXISTENTIAL, "Is the <Object> in the video always playing?", YES_NO),
    _T(17, AUDIO_VISUAL, EXISTENTIAL, "Is there a voiceover?", YES_NO),
    _T(18, AUDIO_VISUAL, COUNTING, "How many instruments are sounding in the video?", COUNT),
    _T(19, AUDIO_VISUAL, COUNTING,
       "How many types of musical instruments sound in the video?", COUNT),
    _T(20, AUDIO_VISUAL, COUNTING,
       "How many instruments in the video did not sound from beginning to end?", COUNT),
    _T(21, AUDIO_VISUAL, COUNTING, "How many sounding <Object> in the video？", COUNT),
    _T(22, AUDIO_VISUAL, LOCATION, "Where is the <LL> instrument?", LEFT_MIDDLE_RIGHT),
    _T(23, AUDIO_VISUAL, LOCATION, "Is the <FL> sound coming from the <LR> instrument?", YES_NO),
    _T(24, AUDIO_VISUAL, LOCATION,
       "Which is the musical instrument that sounds at the same time as the <Object>?",
       INSTRUMENT),
    _T(25, AUDIO_VISUAL, LOCATION,
       "What is the <LR> instrument of the <FL> sounding instrument?", INSTRUMENT),
    _T(26, AUDIO_VISUAL, COMPARATIVE,
       "Is the instrument on the <LR> more rhythmic than the instrument on the <LR>?", YES_NO),
    _T(27, AUDIO_VISUAL, COMPARATIVE,
       "Is the instrument on the <LR> louder than the instrument on the <LR>?", YES_NO),
    _T(28, AUDIO_VISUAL, COMPARATIVE,
       "Is the <Object> on the <LR> more rhythmic than the <Object> on the <LR>?", YES_NO),
    _T(29, AUDIO_VISUAL, COMPARATIVE,
       "Is the <Object> on the <LR> louder than the <Object> on the <LR>?", YES_NO),
    _T(30, AUDIO_VISUAL, TEMPORAL, "Where is the <FL> sounding instrument?", LEFT_MIDDLE_RIGHT),
    _T(31, AUDIO_VISUAL, TEMPORAL, "Which <Object> makes the sound <FL>?",
       LEFT_MIDDLE_RIGHT_SIMULTANEOUSLY),
    _T(32, AUDIO_VISUAL, TEMPORAL, "Which instrument makes sounds <BA> the <Object>?", INSTRUMENT),
    _T(33, AUDIO_VISUAL, TEMPORAL, "What is the <TH> instrument that comes in?", INSTRUMENT),
)  # fmt: skip

TEMPLATES_BY_TEXT: dict[str, TemplateSpec] = {spec.text: spec for spec in TEMPLATES}

# Questions per template in the released MUSIC-AVQA validation split (4,568 records): the
# reference distribution the platform's coverage is compared with. A test recounts it from the
# real split (tests/fixtures/avqa-val.json).
REFERENCE_TEMPLATE_COUNTS: dict[int, int] = {
    1: 168,
    2: 190,
    3: 153,
    4: 140,
    5: 86,
    6: 69,
    7: 139,
    8: 123,
    9: 162,
    10: 176,
    11: 151,
    12: 194,
    13: 133,
    14: 135,
    15: 133,
    16: 143,
    17: 219,
    18: 143,
    19: 139,
    20: 148,
    21: 203,
    22: 110,
    23: 134,
    24: 176,
    25: 41,
    26: 103,
    27: 161,
    28: 122,
    29: 163,
    30: 102,
    31: 84,
    32: 53,
    33: 172,
}
