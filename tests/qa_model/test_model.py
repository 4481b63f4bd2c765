"""AVST, its ablations and AVST+: shapes, masking, grounding weights, which inputs each uses."""

from __future__ import annotations

import pytest
import torch

from qa_model.model import AnswerModel, AVSTConfig, AVSTPlus, build_model, variant_config
from tests.qa_model.conftest import TINY

B, T, L = 3, 10, 6


def inputs(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {
        "questions": torch.randint(2, 20, (B, L), generator=generator),
        "lengths": torch.tensor([6, 4, 2]),
        "audio": torch.randn(B, T, 8, generator=generator),
        "visual": torch.randn(B, T, 16, 4, 4, generator=generator),
        "negative_visual": torch.randn(B, T, 16, 4, 4, generator=generator),
    }


def model_for(variant: str) -> AnswerModel:
    torch.manual_seed(0)
    return build_model(variant_config(variant, vocab_size=20, **TINY)).eval()


@pytest.mark.parametrize(
    "variant", ["question_only", "audio_q", "visual_q", "av_q", "av_q_tg", "avst", "avst_plus"]
)
def test_every_variant_answers_with_42_logits(variant):
    output = model_for(variant)(**inputs())
    assert output.logits.shape == (B, 42)
    assert torch.isfinite(output.logits).all()


def test_avst_returns_its_grounding_weights_and_match_logits():
    output = model_for("avst")(**inputs())
    assert output.audio_weights.shape == output.visual_weights.shape == (B, T)
    assert output.spatial_maps.shape == (B, T, 16)
    assert output.match_positive.shape == output.match_negative.shape == (B * T, 2)


def test_grounding_weights_sum_to_one():
    output = model_for("avst")(**inputs())
    for weights in (output.audio_weights, output.visual_weights):
        assert torch.allclose(weights.sum(-1), torch.ones(B), atol=1e-5)
    assert torch.allclose(output.spatial_maps.sum(-1), torch.ones(B, T), atol=1e-5)
    assert (output.spatial_maps >= 0).all()


@pytest.mark.parametrize("variant", ["avst", "avst_plus"])
def test_padding_does_not_change_the_answer(variant):
    model = model_for(variant)
    batch = inputs()
    padded = dict(
        batch, questions=torch.cat([batch["questions"], torch.zeros(B, 5, dtype=torch.long)], 1)
    )
    padded["questions"][1, 4:] = 0
    batch["questions"][1, 4:] = 0
    assert torch.allclose(model(**batch).logits, model(**padded).logits, atol=1e-6)


@pytest.mark.parametrize(
    ("variant", "ignored"),
    [("question_only", ("audio", "visual")), ("audio_q", ("visual",)), ("visual_q", ("audio",))],
)
def test_ablations_ignore_the_inputs_they_lack(variant, ignored):
    model = model_for(variant)
    batch = inputs()
    changed = dict(batch, **{name: torch.randn_like(batch[name]) for name in ignored})
    assert torch.allclose(model(**batch).logits, model(**changed).logits)


def test_full_model_uses_both_audio_and_visual():
    model = model_for("avst")
    batch = inputs()
    for name in ("audio", "visual"):
        changed = dict(batch, **{name: torch.randn_like(batch[name])})
        assert not torch.allclose(model(**batch).logits, model(**changed).logits)


def test_spatial_grounding_needs_both_modalities():
    with pytest.raises(ValueError, match="needs both audio and visual"):
        AVSTConfig(vocab_size=10, use_audio=False)


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant 'everything'"):
        variant_config("everything", vocab_size=10)


def test_avst_plus_is_its_own_network_and_returns_grounding_weights():
    model = model_for("avst_plus")
    assert isinstance(model, AVSTPlus)
    output = model(**inputs())
    assert output.audio_weights.shape == output.visual_weights.shape == (B, T)
    assert torch.allclose(output.visual_weights.sum(-1), torch.ones(B), atol=1e-5)
    assert output.spatial_maps.shape == (B, T, 16)
    assert torch.allclose(output.spatial_maps.sum(-1), torch.ones(B, T), atol=1e-5)
    assert output.match_positive is None  # no match loss: nothing to pre-train


def test_avst_plus_knows_the_order_of_the_seconds_and_avst_does_not():
    """Temporal questions ("which instrument sounds first?") need the order of the seconds:
    AVST's attention and means are blind to it, AVST+ carries each second's position."""
    batch = inputs()
    reversed_time = dict(
        batch, **{name: batch[name].flip(1) for name in ("audio", "visual", "negative_visual")}
    )
    avst, plus = model_for("avst"), model_for("avst_plus")
    assert torch.allclose(avst(**batch).logits, avst(**reversed_time).logits, atol=1e-5)
    assert not torch.allclose(plus(**batch).logits, plus(**reversed_time).logits, atol=1e-5)


def test_avst_plus_knows_where_in_the_frame_it_looked():
    """The same content moved to the other side of the frame changes AVST+'s answer (location
    questions), while AVST's sound-guided pooling forgets where the patches were."""
    batch = inputs()
    mirrored = dict(batch, **{name: batch[name].flip(-1) for name in ("visual", "negative_visual")})
    avst, plus = model_for("avst"), model_for("avst_plus")
    assert torch.allclose(avst(**batch).logits, avst(**mirrored).logits, atol=1e-5)
    assert not torch.allclose(plus(**batch).logits, plus(**mirrored).logits, atol=1e-5)


def test_an_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        AVSTConfig(vocab_size=10, architecture="transformer-xl")
    with pytest.raises(ValueError, match="reads both audio and visual"):
        AVSTConfig(
            vocab_size=10, architecture="avst_plus", use_audio=False, spatial_grounding=False
        )


def test_spatial_grounding_gives_the_reference_numbers():
    """AVST's spatial grounding computes the reference's cosine attention without normalising
    the whole map: the same attention and the same fused feature, gradients included."""
    from torch.nn import functional as F

    from qa_model.model import SpatialGrounding

    torch.manual_seed(0)
    config = AVSTConfig(vocab_size=10, **TINY)
    grounding = SpatialGrounding(config)
    audio = torch.randn(6, 16, requires_grad=True)
    visual = torch.randn(6, 16, 4, 4, requires_grad=True)

    def reference(audio, visual):
        patches = visual.flatten(2).transpose(1, 2)
        global_feature = patches.mean(dim=1)
        patches = F.normalize(patches, dim=-1)
        cosine = torch.bmm(patches, F.normalize(audio, dim=-1).unsqueeze(-1)).squeeze(-1)
        attention = torch.softmax(cosine, dim=-1)
        grounded = torch.bmm(attention.unsqueeze(1), patches).squeeze(1)
        fused = grounding.fuse(torch.tanh(torch.cat([global_feature, grounded], dim=-1)))
        return fused, attention

    ours, expected = grounding(audio, visual), reference(audio, visual)
    for got, want in zip(ours, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-6)
    ours_grad = torch.autograd.grad(ours[0].sum(), (audio, visual))
    expected_grad = torch.autograd.grad(expected[0].sum(), (audio, visual))
    for got, want in zip(ours_grad, expected_grad, strict=True):
        assert torch.allclose(got, want, atol=1e-5)
