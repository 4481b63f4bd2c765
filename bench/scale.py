"""Collection size: the annotators' reads and the staff pages from 300 to 30,000 videos.

    .venv/bin/python -m bench.scale [--levels 300,3000,9288,30000] [--calls 20] [--annotators 300]

Each level gets a fresh PostgreSQL database (SCALE_DATABASE_URL, default avqa_scale on this
machine), migrated, then filled with a collection in the middle of its life: about five
questions a video on average, most videos full (five live questions), some partly asked, some
not asked yet; questions accepted, open (with no vote, one, or two that disagree), disputed and
invalid, each with its votes, the viewings that unlocked them and their history; a share of
gold questions with their checks; viewings abandoned earlier and viewings in progress now;
a trained model version with a prediction for every live question. 9,288 videos is the size of
MUSIC-AVQA (45,867 QA pairs).

Then it times, through Django's full request stack (middleware, authentication, views,
serializers, templates; no network), each read that offers work to an annotator, each by
`--calls` different annotators, and each staff page `--calls` times (the dataset export
`--export-calls` times), and prints the median and 90th percentile in milliseconds, and at the
end the ratio of the largest level to the smallest. Annotators' reads should not grow with the
collection; staff pages that summarise all of it do, and the table shows by how much.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.common import database_recreate, percentile, server_environment, service_arguments

ROOT = Path(__file__).resolve().parent.parent
LEVELS = "300,3000,9288,30000"
BATCH = 5000
# A page whose first call takes longer than this is called this many times only.
SLOW_PAGE_SECONDS, SLOW_PAGE_CALLS = 5.0, 3

# Annotator reads: (name, what is timed). Each is one request by one annotator.
READS = (
    "api next video",
    "api open templates",
    "api viewing start",
    "api next question",
    "home page",
    "ask page",
    "answer page",
)
STAFF_PAGES = {
    "admin videos": "/admin/annotator/video/",
    "admin questions": "/admin/annotator/question/",
    "admin votes": "/admin/annotator/vote/",
    "admin viewings": "/admin/annotator/watchsession/",
    "admin history": "/admin/annotator/statuschange/",
    "admin annotators": "/admin/annotator/annotator/",
    "admin annotators by votes": "/admin/annotator/annotator/?o=-4",
    "admin predictions": "/admin/annotator/prediction/",
    "review disagreements": "/review/",
    "review suggestions": "/review/queue/suggestions/",
    "review disputed": "/review/queue/disputed/",
    "review question": "/review/questions/{question}/",
    "model page": "/review/model/",
    "dashboard": "/review/dashboard/",
    "export": "/admin/annotator/question/export/",
}


def environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    return {**server_environment(args, workdir), "LOG_LEVEL": "ERROR"}


# --- the collection ----------------------------------------------------------------------------


@dataclass
class Collection:
    annotators: list = field(default_factory=list)
    tokens: dict = field(default_factory=dict)
    staff: object = None
    in_flight: list[int] = field(default_factory=list)
    reviewable: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@contextmanager
def dates_as_given(*models: type) -> Iterator[None]:
    """Let bulk_create keep the creation times the fill gives (auto_now_add would overwrite
    them with now), so the dashboard sees a collection that grew over weeks."""
    fields = [f for m in models for f in m._meta.fields if getattr(f, "auto_now_add", False)]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now_add = True


def _votes_for(status: str, answers: tuple[str, ...], rng: random.Random) -> list[str | None]:
    """Votes (None: "invalid question") whose replay gives `status` under the default rules."""
    right = rng.choice(answers)
    others = [answer for answer in answers if answer != right]
    if status == "accepted":
        return [right, right] if rng.random() < 0.8 else [rng.choice([*others, None]), right, right]
    if status == "open":
        roll = rng.random()
        return [] if roll < 0.55 else [right] if roll < 0.9 else [right, rng.choice(others)]
    if status == "disputed":
        picks = [*rng.sample(answers, 4), None]
        rng.shuffle(picks)
        return picks
    return [None, None] if rng.random() < 0.7 else [right, None, None]


class _Ids:
    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def __call__(self, kind: str) -> int:
        self.next[kind] = self.next.get(kind, 0) + 1
        return self.next[kind]


def fill(videos: int, annotator_count: int, in_flight: int, seed: int) -> Collection:
    """A mid-collection database of `videos` videos (see the module's docstring)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from annotator.counts import drift as counts_drift
    from annotator.models import (
        ANNOTATORS_GROUP,
        Answer,
        ModelVersion,
        Prediction,
        Question,
        QuestionTemplate,
        StatusChange,
        TrainingRun,
        Video,
        Vote,
        WatchSession,
    )
    from qa_model import catalogue

    rng = random.Random(seed)
    now = timezone.now()
    span = timedelta(days=60)
    user_model = get_user_model()
    collection = Collection()
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    people = user_model.objects.bulk_create(
        user_model(username=f"annotator{n:04d}", password="!", date_joined=now - span)
        for n in range(annotator_count)
    )
    user_model.groups.through.objects.bulk_create(
        user_model.groups.through(user_id=person.pk, group_id=group.pk) for person in people
    )
    tokens = Token.objects.bulk_create(Token(key=Token.generate_key(), user=p) for p in people)
    collection.annotators = people
    collection.tokens = {token.user_id: token.key for token in tokens}
    collection.staff = user_model.objects.create_superuser("scale-admin", "", None)

    templates = list(QuestionTemplate.objects.order_by("pk"))
    answer_ids = dict(Answer.objects.values_list("text", "pk"))
    ids = _Ids()
    counts: dict[str, int] = {}
    run = TrainingRun.objects.create(status="succeeded", trigger="schedule", accepted_pairs=0)
    versions = []
    for number in range(1, 6):
        previous = (
            run
            if number == 1
            else TrainingRun.objects.create(
                status="succeeded", trigger="schedule", accepted_pairs=0
            )
        )
        columns = {
            name: round(0.4 + 0.05 * number + rng.random() * 0.05, 4)
            for name in (
                "A-Count",
                "A-Comp",
                "A avg",
                "V-Count",
                "V-Loc",
                "V avg",
                "AV-Ext",
                "AV-Loc",
                "AV-Count",
                "AV-Comp",
                "AV-Temp",
                "AV avg",
                "All",
            )
        }
        versions.append(
            ModelVersion.objects.create(
                run=previous,
                number=number,
                dataset_hash=f"{number:064x}",
                device="cuda",
                duration_seconds=300.0,
                best_epoch=8,
                best_val_accuracy=columns["All"],
                metrics={"columns": columns},
                checkpoint=f"models/v{number}.pt",
                is_active=number == 5,
            )
        )
    version = versions[-1]
    map_pool = [
        {
            "segments": sorted(rng.sample(range(10), 3)),
            "maps": [
                [[round(rng.random(), 5) for _ in range(14)] for _ in range(14)] for _ in range(3)
            ],
        }
        for _ in range(20)
    ]

    rows: dict[type, list] = {}

    def add(model: type, row: object) -> None:
        rows.setdefault(model, []).append(row)

    def flush() -> None:
        # One transaction: viewings and questions name each other (checked at commit).
        with dates_as_given(Video, Question, Vote, StatusChange, Prediction), transaction.atomic():
            for model in (Video, WatchSession, Question, Vote, StatusChange, Prediction):
                if rows.get(model):
                    model.objects.bulk_create(rows[model], batch_size=BATCH)
        rows.clear()

    def viewing(person: object, video_id: int, at, answering: int | None = None) -> int:
        session_id = ids("session")
        add(
            WatchSession,
            WatchSession(
                id=session_id,
                annotator_id=person.pk,
                video_id=video_id,
                started_at=at - timedelta(seconds=40),
                last_heartbeat_at=at - timedelta(seconds=1),
                last_position=38.0,
                credited_seconds=35.0,
                heartbeats=9,
                consumed_at=at,
                answering_id=answering,
            ),
        )
        return session_id

    not_full: list[int] = []
    open_questions: list[tuple[int, int]] = []
    for index in range(videos):
        video_id = index + 1
        roll = rng.random()
        live = 5 if roll < 0.82 else rng.randint(1, 4) if roll < 0.94 else 0
        invalid = (rng.random() < 0.2) + (rng.random() < 0.05) if live else 0
        add(
            Video,
            Video(
                id=video_id,
                avqa_id=f"scale{index:06d}",
                title=f"Performance {index}",
                file="videos/scale.mp4",
                duration_seconds=60.0,
                feature_status="ready",
                created_at=now - span - timedelta(days=1),
                live_questions=live,
            ),
        )
        if live < 5:
            not_full.append(video_id)
        started = now - span + timedelta(seconds=rng.random() * (span.total_seconds() - 7200))
        for position, template in enumerate(rng.sample(templates, live + invalid)):
            answers = catalogue.ANSWER_KINDS[template.answer_kind]
            if position >= live:
                status = "invalid"
            else:
                shares = (0.85, 0.96) if live == 5 else (0.46, 0.96)
                draw = rng.random()
                status = (
                    "accepted" if draw < shares[0] else "open" if draw < shares[1] else ("disputed")
                )
                if status == "disputed" and len(answers) < 4:
                    status = "accepted"
            counts[status] = counts.get(status, 0) + 1
            asked_at = started + timedelta(seconds=position * rng.uniform(60, 7200))
            author, *voters = rng.sample(people, 9)
            question_id = ids("question")
            session = viewing(author, video_id, asked_at)
            votes = _votes_for(status, answers, rng)
            cast_at = asked_at
            for voter, answer in zip(voters, votes, strict=False):
                cast_at = min(
                    cast_at + timedelta(seconds=rng.uniform(60, 6 * 3600)),
                    now - timedelta(minutes=5),
                )
                add(
                    Vote,
                    Vote(
                        id=ids("vote"),
                        question_id=question_id,
                        annotator_id=voter.pk,
                        answer_id=None if answer is None else answer_ids[answer],
                        invalid=answer is None,
                        created_at=cast_at,
                        watch_session_id=viewing(voter, video_id, cast_at, question_id),
                    ),
                )
            accepted = votes[-1] if status == "accepted" else None
            decided_at = None if status == "open" else cast_at
            gold_since = None
            if status == "accepted" and rng.random() < 0.01:
                gold_since = min(cast_at + timedelta(days=1), now - timedelta(minutes=1))
                for checker in voters[len(votes) : len(votes) + rng.randint(0, 3)]:
                    right = rng.random() < 0.85
                    answer = (
                        accepted if right else rng.choice([a for a in answers if a != accepted])
                    )
                    add(
                        Vote,
                        Vote(
                            id=ids("vote"),
                            question_id=question_id,
                            annotator_id=checker.pk,
                            answer_id=answer_ids[answer],
                            gold_check=True,
                            created_at=gold_since,
                            watch_session_id=viewing(checker, video_id, gold_since, question_id),
                        ),
                    )
                counts["gold"] = counts.get("gold", 0) + 1
            add(
                Question,
                Question(
                    id=question_id,
                    video_id=video_id,
                    template_id=template.pk,
                    slot_values=[rng.choice(catalogue.SLOT_VALUES[s]) for s in template.slots],
                    author_id=author.pk,
                    status=status,
                    accepted_answer_id=answer_ids[accepted] if accepted else None,
                    watch_session_id=session,
                    created_at=asked_at,
                    decided_at=decided_at,
                    gold_since=gold_since,
                    counted_votes=len(votes),
                ),
            )
            add(
                StatusChange,
                StatusChange(
                    id=ids("change"),
                    question_id=question_id,
                    to_status="open",
                    cause="created",
                    actor_id=author.pk,
                    created_at=asked_at,
                ),
            )
            if decided_at is not None:
                add(
                    StatusChange,
                    StatusChange(
                        id=ids("change"),
                        question_id=question_id,
                        from_status="open",
                        to_status=status,
                        cause="votes",
                        actor_id=voters[len(votes) - 1].pk,
                        accepted_answer_id=answer_ids[accepted] if accepted else None,
                        created_at=decided_at,
                    ),
                )
            if status == "open":
                open_questions.append((question_id, video_id))
            if status != "invalid":
                top = rng.sample(answers, min(3, len(answers)))
                confidences = sorted((rng.random() for _ in top), reverse=True)
                total = sum(confidences) * 1.2
                add(
                    Prediction,
                    Prediction(
                        version=version,
                        question_id=question_id,
                        answer=top[0],
                        confidence=round(confidences[0] / total, 4),
                        top3=[
                            {"answer": a, "confidence": round(c / total, 4)}
                            for a, c in zip(top, confidences, strict=True)
                        ],
                        audio_weights=[round(rng.random() / 10, 5) for _ in range(10)],
                        visual_weights=[round(rng.random() / 10, 5) for _ in range(10)],
                        spatial_maps=rng.choice(map_pool),
                        created_at=now - timedelta(hours=1),
                    ),
                )
        if len(rows.get(Vote, ())) > BATCH * 4:
            flush()
    flush()
    with connection.cursor() as cursor:  # the ids given above were not drawn from sequences
        models = [Video, Question, Vote, WatchSession, StatusChange]
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)

    # Viewings abandoned earlier today (no submission, no recent heartbeat), and viewings going
    # on now, half to ask about a video with a free slot and half to answer an open question.
    abandoned = []
    for _ in range(ids.next["session"] // 30):
        at = now - timedelta(hours=rng.uniform(1, 20))
        person = rng.choice(people)
        abandoned.append(
            WatchSession(
                annotator_id=person.pk,
                video_id=rng.randint(1, videos),
                started_at=at,
                last_heartbeat_at=at + timedelta(seconds=12),
                last_position=12.0,
                credited_seconds=12.0,
                heartbeats=3,
            )
        )
    WatchSession.objects.bulk_create(abandoned, batch_size=BATCH)
    going_on = []
    for number in range(in_flight):
        person = rng.choice(people)
        if number % 2 and open_questions:
            question_id, video_id = rng.choice(open_questions)
        else:
            question_id, video_id = None, rng.choice(not_full or [1])
        going_on.append(
            WatchSession(
                annotator_id=person.pk,
                video_id=video_id,
                answering_id=question_id,
                started_at=now - timedelta(seconds=20),
                last_heartbeat_at=now,
                last_position=18.0,
                credited_seconds=18.0,
                heartbeats=5,
            )
        )
    collection.in_flight = [s.pk for s in WatchSession.objects.bulk_create(going_on)]
    collection.reviewable = [q for q, _ in open_questions[:500]]
    TrainingRun.objects.update(accepted_pairs=counts.get("accepted", 0))
    counts.update(
        videos=videos,
        questions=ids.next.get("question", 0),
        votes=ids.next.get("vote", 0),
        viewings=WatchSession.objects.count(),
        predictions=Prediction.objects.count(),
    )
    collection.counts = counts
    # What the services would have stored beside the rows: checked, not assumed.
    drift = counts_drift()
    if drift:
        raise SystemExit(f"the fill's stored counts differ from a recount: {drift[:5]}")
    return collection


def analyze() -> None:
    """Fresh statistics, as a database in service has (autovacuum), before any plan is made."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- the measurements --------------------------------------------------------------------------


def _timed(timings: dict[str, list[float]], name: str, call, *args, **kwargs):
    started = time.perf_counter()
    response = call(*args, **kwargs)
    timings.setdefault(name, []).append(time.perf_counter() - started)
    if response.status_code not in (200, 201, 204):
        raise SystemExit(f"{name}: HTTP {response.status_code} {response.content[:300]!r}")
    return response


def _keep_in_flight(collection: Collection) -> None:
    """The fill's viewings in progress send a heartbeat now, as their players would."""
    from django.utils import timezone

    from annotator.models import WatchSession

    WatchSession.objects.filter(pk__in=collection.in_flight).update(
        last_heartbeat_at=timezone.now()
    )


def annotator_reads(collection: Collection, people: list, timings: dict) -> None:
    """Each person asks for work the way the pages and the API do."""
    from django.test import Client

    for person in people:
        _keep_in_flight(collection)
        api = Client(HTTP_AUTHORIZATION=f"Token {collection.tokens[person.pk]}")
        video = _timed(timings, "api next video", api.get, "/api/videos/next/")
        if video.status_code == 200:
            video_id = video.json()["id"]
            _timed(timings, "api open templates", api.get, f"/api/videos/{video_id}/templates/")
            _timed(
                timings,
                "api viewing start",
                api.post,
                "/api/watch-sessions/",
                {"video": video_id},
                content_type="application/json",
            )
        _timed(timings, "api next question", api.get, "/api/questions/next/")
        browser = Client()
        browser.force_login(person)
        _timed(timings, "home page", browser.get, "/")
        _timed(timings, "ask page", browser.get, "/ask/")
        _timed(timings, "answer page", browser.get, "/answer/")


def staff_pages(collection: Collection, calls: int, export_calls: int, timings: dict) -> None:
    from django.test import Client

    browser = Client()
    browser.force_login(collection.staff)
    rng = random.Random(len(collection.reviewable))
    for name, url in STAFF_PAGES.items():
        wanted = export_calls if name == "export" else calls
        while len(timings.get(name, ())) < wanted:
            question = rng.choice(collection.reviewable or [1])
            _timed(timings, name, browser.get, url.format(question=question))
            if timings[name][0] > SLOW_PAGE_SECONDS:
                wanted = min(wanted, SLOW_PAGE_CALLS)  # minutes a call: a few tell enough


def level(args: argparse.Namespace, videos: int) -> dict:
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()  # the previous level's, to the database dropped now
    database_recreate(args.database_url)
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    collection = fill(videos, args.annotators, args.in_flight, args.seed)
    analyze()
    filled = time.monotonic() - started
    rng = random.Random(args.seed)
    timings: dict[str, list[float]] = {}
    warm_up = {}
    annotator_reads(collection, collection.annotators[-2:], warm_up)
    staff_pages(collection, 1, 1, warm_up)
    annotator_reads(collection, rng.sample(collection.annotators[:-2], args.calls), timings)
    staff_pages(collection, args.calls, args.export_calls, timings)
    return {"videos": videos, "counts": collection.counts, "filled": filled, "timings": timings}


def _row(name: str, values: list[float]) -> str:
    return (
        f"  {name:<28}{1000 * statistics.median(values):>10.1f}"
        f"{1000 * percentile(values, 0.9):>10.1f}{len(values):>7}"
    )


def report(result: dict) -> None:
    counts = result["counts"]
    print(
        f"\n{result['videos']:,} videos: {counts['questions']:,} questions "
        f"({counts.get('accepted', 0):,} accepted, {counts.get('open', 0):,} open, "
        f"{counts.get('disputed', 0):,} disputed, {counts.get('invalid', 0):,} invalid, "
        f"{counts.get('gold', 0):,} gold), {counts['votes']:,} votes, "
        f"{counts['viewings']:,} viewings, {counts['predictions']:,} predictions; "
        f"filled in {result['filled']:.0f} s"
    )
    print(f"  {'read':<28}{'median ms':>10}{'p90 ms':>10}{'calls':>7}")
    for name in (*READS, *STAFF_PAGES):
        if name in result["timings"]:
            print(_row(name, result["timings"][name]), flush=True)


def summary(results: list[dict]) -> None:
    first, last = results[0], results[-1]
    header = "".join(f"{r['videos']:>10,}" for r in results)
    print(
        f"\nmedian ms by videos{' ' * 9}{header}{'ratio':>9}  ({last['videos']:,} / "
        f"{first['videos']:,})"
    )
    for name in (*READS, *STAFF_PAGES):
        if not all(name in r["timings"] for r in results):
            continue
        medians = [statistics.median(r["timings"][name]) for r in results]
        cells = "".join(f"{1000 * m:>10.1f}" for m in medians)
        print(f"  {name:<26}{cells}{medians[-1] / medians[0]:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default=LEVELS, help=f"numbers of videos (default {LEVELS})")
    parser.add_argument("--calls", type=int, default=20, help="calls per read and page")
    parser.add_argument("--export-calls", type=int, default=3)
    parser.add_argument("--annotators", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=150, help="viewings going on")
    parser.add_argument("--seed", type=int, default=0)
    service_arguments(parser, "scale", redis_db=10)
    parser.add_argument("--workdir", default="var/bench/scale")
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    (workdir / "var").mkdir(parents=True, exist_ok=True)
    os.environ.update(environment(args, workdir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    results = []
    for videos in (int(part) for part in args.levels.split(",")):
        results.append(level(args, videos))
        report(results[-1])
    if len(results) > 1:
        summary(results)


if __name__ == "__main__":
    main()
