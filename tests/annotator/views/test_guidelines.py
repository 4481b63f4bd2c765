"""The guidelines page: every template by modality and type, what each blank means, and a
worked example of each type whose answer is the truth about the example performance."""

from __future__ import annotations

from django.urls import reverse

from annotator import guidelines
from qa_model import catalogue


def test_every_template_every_blank_and_an_example_per_type(client):
    page = client.get(reverse("guidelines")).content.decode()
    for spec in catalogue.TEMPLATES:
        assert spec.text.replace("<", "&lt;").replace(">", "&gt;") in page
    for slot in catalogue.SLOT_VALUES:
        assert f"&lt;{slot}&gt;" in page
    for modality in ("Audio", "Visual", "Audio-Visual"):
        assert f"<h2>{modality} questions</h2>" in page
    examples = [t.example for m in guidelines.modality_guides() for t in m.types if t.example]
    assert len(examples) >= 8  # the example performance answers most of the nine types
    assert all(f"→ <b>{e.answer}</b>" in page for e in examples)
    assert "Watch with sound" in page and "30 seconds" in page


def test_the_example_performance_is_described_in_words():
    lines = guidelines.example_scene()
    assert lines[-1] in ("Indoors.", "Outdoors.") or lines[-1].startswith("A voice")
    assert all(line.startswith(("A ", "Indoors", "Outdoors")) for line in lines)


def test_annotators_find_it_from_the_menu(client, annotator):
    client.force_login(annotator)
    assert reverse("guidelines") in client.get(reverse("home")).content.decode()
