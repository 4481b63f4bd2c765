"""Answer balance: how each template's accepted answers are spread against a balanced target,
how many of its pairs a question-only model answers without watching, and so what the
collection needs next.

A template whose answers are skewed, or whose questions are answerable from the question alone,
teaches a model nothing about sound or sight (the bias MUSIC-AVQA v2.0 rebalanced and
MUSIC-AVQA-R re-split its test set to expose). While collecting, the platform can prevent it
instead of repairing it: the Ask page lists the most needed templates first and names the
answer a skewed template most needs, as VQA v2 collected complementary pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from annotator.models import Question, QuestionStatus, QuestionTemplate
from qa_model import catalogue

# A template's balance is judged once it has this many accepted pairs.
BALANCE_MIN_PAIRS = 10
# Skew: how far the top answer's share is above the balanced share, as a fraction of the way
# to 1 (0: balanced, 1: a single answer). Above this, the Ask page names the wanted answer.
SKEW_WARNING = 0.25
NEED_CACHE_KEY = "annotator:template-need"
NEED_CACHE_SECONDS = 60


@dataclass
class AnswerShare:
    answer: str
    pairs: int
    share: float
    blind_share: float | None  # of its scored pairs, those answerable without watching


@dataclass
class TemplateBalance:
    template: QuestionTemplate
    live: int  # live questions of the template
    pairs: int  # accepted
    answers: list[AnswerShare] = field(default_factory=list)  # most frequent first
    scored: int = 0  # accepted pairs with a blind score
    blind: int = 0  # of those, answerable without watching (score ≥ BLIND_SCORE_WARNING)
    reference_share: float = 0.0  # its share of the released dataset's questions
    live_share: float = 0.0  # its share of our live questions

    @property
    def target_share(self) -> float | None:
        """The share of each answer if the answers seen were balanced."""
        return 1 / len(self.answers) if len(self.answers) >= 2 else None

    @property
    def top_share(self) -> float:
        return self.answers[0].share if self.answers else 0.0

    @property
    def skew(self) -> float:
        """0 when the answers seen are balanced, 1 when one answer takes every pair; 0 until
        the template has BALANCE_MIN_PAIRS pairs."""
        if self.pairs < BALANCE_MIN_PAIRS:
            return 0.0
        target = self.target_share
        if target is None:
            return 1.0  # every pair has the same answer
        return (self.top_share - target) / (1 - target)

    @property
    def blind_share(self) -> float | None:
        return self.blind / self.scored if self.scored else None

    @property
    def under_asked(self) -> float:
        """How far the template is below its share of the released dataset (0 to 1)."""
        if not self.reference_share:
            return 0.0
        return max(0.0, self.reference_share - self.live_share) / self.reference_share

    @property
    def need(self) -> float:
        """Under-asked and skewed (or answerable without watching) first."""
        return self.under_asked + max(self.skew, self.blind_share or 0.0)

    @property
    def skewed(self) -> bool:
        return self.skew > SKEW_WARNING

    @property
    def blind_heavy(self) -> bool:
        return (self.blind_share or 0.0) > SKEW_WARNING

    @property
    def reason(self) -> str:
        """Why the template needs a particular answer, for the person asking."""
        if self.skewed:
            return (
                f"Most accepted answers to this template are “{self.answers[0].answer}” "
                f"({self.top_share:.0%}), so a model can guess them without watching."
            )
        if self.blind_heavy:
            return (
                f"A model that reads only the question answers {self.blind_share:.0%} of this "
                "template's accepted questions without watching."
            )
        return ""

    @property
    def wanted_answer(self) -> str | None:
        """For a skewed template, the admissible answer with the fewest pairs: a yes/no
        template can want an answer it has never had; others, the rarest answer they have
        had (a count template's "ten" is admissible but rarely true)."""
        if not (self.skewed or self.blind_heavy):
            return None
        counts = {share.answer: share.pairs for share in self.answers}
        candidates = set(self.template.answers)
        if len(candidates) > 2:
            candidates &= set(counts)
        if len(candidates) < 2:
            return None
        return min(sorted(candidates), key=lambda answer: counts.get(answer, 0))


def template_balance() -> list[TemplateBalance]:
    """Every template's balance, in template order (two grouped queries)."""
    threshold = settings.BLIND_SCORE_WARNING
    rows = (
        Question.objects.filter(status=QuestionStatus.ACCEPTED)
        .values_list("template", "accepted_answer__text")
        .annotate(
            n=Count("id"),
            scored=Count("id", filter=Q(blind_score__isnull=False)),
            blind=Count("id", filter=Q(blind_score__gte=threshold)),
        )
    )
    live = dict(
        Question.objects.live()
        .values_list("template")
        .annotate(n=Count("id"))
        .values_list("template", "n")
    )
    live_total = sum(live.values()) or 1
    reference = catalogue.REFERENCE_TEMPLATE_COUNTS
    reference_total = sum(reference.values())
    by_template = {
        template.pk: TemplateBalance(
            template=template,
            live=live.get(template.pk, 0),
            pairs=0,
            reference_share=reference.get(template.pk, 0) / reference_total,
            live_share=live.get(template.pk, 0) / live_total,
        )
        for template in QuestionTemplate.objects.order_by("pk")
    }
    for template_id, answer, count, scored, blind in rows:
        balance = by_template[template_id]
        balance.pairs += count
        balance.scored += scored
        balance.blind += blind
        balance.answers.append(AnswerShare(answer, count, 0.0, blind / scored if scored else None))
    for balance in by_template.values():
        for share in balance.answers:
            share.share = share.pairs / balance.pairs
        balance.answers.sort(key=lambda share: (-share.pairs, share.answer))
    return list(by_template.values())


@dataclass(frozen=True)
class Need:
    rank: int  # 0 is the most needed
    need: float
    wanted_answer: str | None
    reason: str


def template_needs() -> dict[int, Need]:
    """Template id → what the collection needs of it, cached for a minute (the Ask page reads
    it on every viewing; at MUSIC-AVQA size the two grouped queries take tens of ms)."""
    needs = cache.get(NEED_CACHE_KEY)
    if needs is None:
        balances = sorted(template_balance(), key=lambda b: (-b.need, b.template.pk))
        needs = {
            balance.template.pk: Need(
                rank=rank,
                need=balance.need,
                wanted_answer=balance.wanted_answer,
                reason=balance.reason,
            )
            for rank, balance in enumerate(balances)
        }
        cache.set(NEED_CACHE_KEY, needs, NEED_CACHE_SECONDS)
    return needs


def by_need(templates: Iterable[QuestionTemplate], needs: dict[int, Need]) -> list:
    """These templates, the most needed first (a template without a need last, by id)."""
    return sorted(templates, key=lambda t: needs[t.pk].rank if t.pk in needs else len(needs) + t.pk)


def blind_answerable() -> QuerySet[Question]:
    """Accepted questions a question-only model answers without watching (score at least
    BLIND_SCORE_WARNING), most answerable first: candidates for replacement or rebalancing."""
    return (
        Question.objects.filter(
            status=QuestionStatus.ACCEPTED, blind_score__gte=settings.BLIND_SCORE_WARNING
        )
        .select_related("video", "template", "accepted_answer")
        .order_by("-blind_score", "id")
    )
