"""What the API reads and writes. Outputs hold nothing of other people's work: no votes but
one's own, no vote counts, no accepted answers, no model predictions."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from annotator import rules
from annotator.models import Question, QuestionTemplate, Video, Vote, WatchSession
from qa_model import catalogue


class WatchSessionSerializer(serializers.ModelSerializer):
    credited_seconds = serializers.SerializerMethodField()
    required_seconds = serializers.SerializerMethodField()
    unlocked = serializers.SerializerMethodField(help_text="Enough watching to submit once.")
    consumed = serializers.SerializerMethodField(help_text="Already spent on a submission.")
    shortfall = serializers.SerializerMethodField(
        help_text="In a heartbeat's answer: why it counted less than the time that passed "
        f"({', '.join(rules.SHORTFALLS)}), or empty."
    )
    shortfall_text = serializers.SerializerMethodField(help_text="The same, in words.")

    class Meta:
        model = WatchSession
        fields = [
            "id",
            "video",
            "started_at",
            "credited_seconds",
            "required_seconds",
            "unlocked",
            "consumed",
            "shortfall",
            "shortfall_text",
        ]

    def get_shortfall(self, session: WatchSession) -> str:
        return getattr(session, "shortfall", "")

    def get_shortfall_text(self, session: WatchSession) -> str:
        return rules.shortfall_text(self.get_shortfall(session), rules.Limits.from_settings())

    def get_credited_seconds(self, session: WatchSession) -> float:
        return round(session.credited_seconds, 2)

    def get_required_seconds(self, session: WatchSession) -> float:
        return settings.WATCH_MIN_SECONDS

    def get_unlocked(self, session: WatchSession) -> bool:
        return (
            session.consumed_at is None and session.credited_seconds >= settings.WATCH_MIN_SECONDS
        )

    def get_consumed(self, session: WatchSession) -> bool:
        return session.consumed_at is not None


# Numbers a client sends are refused (400) above what their database column holds, never
# passed on to fail there (500): row ids are 64-bit, counts 32-bit.
ID_MAX = 2**63 - 1
COUNT_MAX = 2**31 - 1


class WatchStartSerializer(serializers.Serializer):
    video = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    question = serializers.IntegerField(
        min_value=1,
        max_value=ID_MAX,
        required=False,
        help_text="The question you will answer after watching (from questions/next/): while you "
        "watch, it is offered to fewer others.",
    )


class HeartbeatSerializer(serializers.Serializer):
    position = serializers.FloatField(min_value=0, help_text="Playhead position, seconds.")
    playing = serializers.BooleanField()
    visible = serializers.BooleanField(help_text="The tab is visible.")
    muted = serializers.BooleanField(help_text="Muted.")
    rate = serializers.FloatField(min_value=0, max_value=16, help_text="Playback rate.")
    volume = serializers.FloatField(
        min_value=0, max_value=1, required=False, default=1.0, help_text="Volume, 0 to 1."
    )


class VideoSerializer(serializers.ModelSerializer):
    stream_url = serializers.SerializerMethodField()

    class Meta:
        model = Video
        fields = ["id", "avqa_id", "title", "duration_seconds", "stream_url"]

    def get_stream_url(self, video: Video) -> str:
        return reverse("video-stream", args=[video.pk])


class SlotSerializer(serializers.Serializer):
    name = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())


class TemplateSerializer(serializers.ModelSerializer):
    slots = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()
    need_rank = serializers.SerializerMethodField(
        help_text="0 for the template the collection needs most (annotator.balance)"
    )
    wanted_answer = serializers.SerializerMethodField(
        help_text="for a skewed template, the answer it most needs; else null"
    )

    class Meta:
        model = QuestionTemplate
        fields = [
            "id",
            "text",
            "modality",
            "question_type",
            "answer_kind",
            "slots",
            "answers",
            "need_rank",
            "wanted_answer",
        ]

    def _need(self, template: QuestionTemplate):
        return (self.context.get("needs") or {}).get(template.pk)

    def get_need_rank(self, template: QuestionTemplate) -> int | None:
        need = self._need(template)
        return need.rank if need else None

    def get_wanted_answer(self, template: QuestionTemplate) -> str | None:
        need = self._need(template)
        return need.wanted_answer if need else None

    def get_slots(self, template: QuestionTemplate) -> list[dict]:
        return [
            {"name": slot, "choices": list(catalogue.SLOT_VALUES[slot])} for slot in template.slots
        ]

    def get_answers(self, template: QuestionTemplate) -> list[str]:
        return list(template.answers)


class QuestionCreateSerializer(serializers.Serializer):
    video = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    template = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    slot_values = serializers.ListField(
        child=serializers.CharField(allow_blank=True), allow_empty=True
    )
    watch_session = serializers.IntegerField(min_value=1, max_value=ID_MAX)


class OwnQuestionSerializer(serializers.ModelSerializer):
    """One of the annotator's own questions: its text and where it stands, not its answer."""

    text = serializers.CharField(read_only=True)

    class Meta:
        model = Question
        fields = ["id", "video", "template", "slot_values", "text", "status", "created_at"]


class QuestionToAnswerSerializer(serializers.ModelSerializer):
    video = VideoSerializer(read_only=True)
    text = serializers.CharField(read_only=True)
    answers = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = ["id", "video", "template", "text", "answers"]

    def get_answers(self, question: Question) -> list[str]:
        return list(question.template.answers)


class VoteCreateSerializer(serializers.Serializer):
    watch_session = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    answer = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    invalid = serializers.BooleanField(
        required=False, default=False, help_text="The question is invalid."
    )


class OwnVoteSerializer(serializers.ModelSerializer):
    answer = serializers.SlugRelatedField(slug_field="text", read_only=True)
    question_text = serializers.CharField(source="question.text", read_only=True)

    class Meta:
        model = Vote
        fields = ["id", "question", "question_text", "answer", "invalid", "created_at"]


class ContributionsSerializer(serializers.Serializer):
    questions = OwnQuestionSerializer(many=True)
    votes = OwnVoteSerializer(many=True)
