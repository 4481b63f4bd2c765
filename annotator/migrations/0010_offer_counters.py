"""Counts kept beside the rows they count (live questions per video, counted votes per
question), each row's place on the offer ring, the partial indexes that offering work walks,
and the indexes that the staff's lists read in order. The counts of an existing collection are
recounted here from its questions and votes."""

from django.db import migrations, models
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

LIVE_STATUSES = ("open", "accepted", "disputed")


def offer_key_field() -> models.GeneratedField:
    """As annotator.models.offer_key_field when this migration was written."""
    ring = Value(2**31, output_field=models.BigIntegerField())
    step = Value(1_327_217_885, output_field=models.BigIntegerField())
    return models.GeneratedField(
        expression=(F("id") % ring) * step % ring,
        output_field=models.BigIntegerField(),
        db_persist=True,
    )


def _count(queryset, outer: str):
    per_row = queryset.filter(**{outer: OuterRef("pk")}).order_by().values(outer)
    counted = per_row.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), Value(0), output_field=IntegerField())


def counts_recount(apps, schema_editor) -> None:
    Video = apps.get_model("annotator", "Video")
    Question = apps.get_model("annotator", "Question")
    Vote = apps.get_model("annotator", "Vote")
    Video.objects.update(
        live_questions=_count(Question.objects.filter(status__in=LIVE_STATUSES), "video")
    )
    counted = Vote.objects.filter(discounted_at__isnull=True, gold_check=False)
    Question.objects.update(counted_votes=_count(counted, "question"))


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0009_watch_session_answering"),
    ]

    operations = [
        migrations.AddField(
            model_name="question",
            name="counted_votes",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="question",
            name="offer_key",
            field=offer_key_field(),
        ),
        migrations.AddField(
            model_name="video",
            name="live_questions",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="video",
            name="offer_key",
            field=offer_key_field(),
        ),
        migrations.RunPython(counts_recount, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="question",
            index=models.Index(
                condition=Q(status="open"),
                fields=["counted_votes", "offer_key"],
                name="question_offer_ring",
            ),
        ),
        migrations.AddIndex(
            model_name="question",
            index=models.Index(
                condition=Q(gold_since__isnull=False),
                fields=["gold_since", "id"],
                name="question_gold",
            ),
        ),
        migrations.AddIndex(
            model_name="video",
            index=models.Index(
                condition=Q(is_active=True),
                fields=["live_questions", "offer_key"],
                name="video_offer_ring",
            ),
        ),
        migrations.AddIndex(
            model_name="watchsession",
            index=models.Index(
                condition=Q(consumed_at__isnull=True),
                fields=["last_heartbeat_at"],
                name="watch_session_in_flight",
            ),
        ),
        migrations.AddIndex(
            model_name="watchsession",
            index=models.Index(fields=["started_at", "id"], name="watch_session_started"),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(
                fields=["version", "-confidence", "question"], name="prediction_review_order"
            ),
        ),
        migrations.AddIndex(
            model_name="prediction",
            index=models.Index(fields=["confidence", "id"], name="prediction_confidence"),
        ),
    ]
