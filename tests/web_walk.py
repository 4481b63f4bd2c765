"""Use the whole web side in a fresh process, then report which heavy modules it imported.

    python -m tests.web_walk WORK_DIR

Run by tests/test_web_side.py in a process of its own (the test process has long imported torch
for the model tests). In a fresh SQLite database under WORK_DIR it seeds a small collection
(a video, annotators, an accepted question, a gold one, an open one, a model version with
predictions), then signs in as an annotator, a reviewer and an admin and requests every URL of
the project with every object id that fits, every admin page of every registered model, a few
API writes, and runs the management commands (all but `runlocal`, which only starts the other
processes, and is imported). Prints a JSON line: the modules of interest found in sys.modules,
the statuses of the requests made and any URL that answered 500.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections import Counter
from pathlib import Path


def _collection() -> dict:
    """Rows for every page to show: people, a video, questions in each state, a model."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from annotator import services
    from annotator.models import (
        ModelVersion,
        Prediction,
        QuestionTemplate,
        TrainingRun,
        Video,
        WatchSession,
    )

    call_command("seed_demo", videos=1, annotators=4, seconds=40, collection=0, verbosity=0)
    users = {user.username: user for user in get_user_model().objects.all()}
    video = Video.objects.get()

    def viewing(person: object) -> WatchSession:
        session = services.watch_start(annotator=person, video=video)
        session.credited_seconds = 31.0
        session.save(update_fields=["credited_seconds"])
        return session

    def ask(person: object, template_id: int, slots: list[str]) -> object:
        return services.question_create(
            annotator=person,
            video=video,
            template=QuestionTemplate.objects.get(pk=template_id),
            slot_values=slots,
            watch_session=viewing(person),
        )

    def vote(person: object, question: object, answer: str) -> None:
        services.vote_cast(
            annotator=person, question=question, watch_session=viewing(person), answer=answer
        )

    accepted = ask(users["annotator1"], 1, ["cello"])
    vote(users["annotator2"], accepted, "yes")
    vote(users["annotator3"], accepted, "yes")
    gold = ask(users["annotator2"], 11, [])
    vote(users["annotator1"], gold, "indoor")
    vote(users["annotator3"], gold, "indoor")
    services.question_gold_set(reviewer=users["admin"], question=gold, gold=True)
    opened = ask(users["annotator3"], 2, [])
    run = TrainingRun.objects.create(status="succeeded", trigger="admin", accepted_pairs=2)
    version = ModelVersion.objects.create(
        run=run,
        number=1,
        dataset_hash="0" * 64,
        device="cpu",
        duration_seconds=1.0,
        metrics={"columns": {"All": 0.5}},
        checkpoint="models/v1.pt",
        is_active=True,
    )
    for question, answer in ((accepted, "no"), (opened, "two")):
        Prediction.objects.create(
            version=version,
            question=question,
            answer=answer,
            confidence=0.9,
            top3=[{"answer": answer, "confidence": 0.9}],
            audio_weights=[0.1] * 10,
            visual_weights=[0.1] * 10,
            spatial_maps={"segments": [0], "maps": [[[0.5] * 14] * 14]},
        )
    return {
        "users": users,
        "video": video,
        "questions": [accepted, gold, opened],
        "run": run,
        "version": version,
        "session": WatchSession.objects.filter(consumed_at=None).first()
        or viewing(users["annotator4"]),
        "when": timezone.now(),
    }


def _patterns(resolver, prefix: str = "") -> list[tuple[str, object]]:
    """(route, pattern) of every URL pattern, the admin's included."""
    from django.urls import URLResolver

    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _patterns(entry, route)
        else:
            found.append((route, entry))
    return found


def _urls(collection: dict) -> set[str]:
    """Every route of the project filled with every id or name that fits it."""
    import re

    from django.urls import get_resolver

    samples = {
        "int": [
            str(collection["video"].pk),
            *(str(q.pk) for q in collection["questions"]),
            str(collection["session"].pk),
            str(collection["run"].pk),
            str(collection["version"].pk),
            "0",
        ],
        "slug": [collection["video"].avqa_id],
        "str": ["disagreements", "suggestions", "disputed", "annotator", "video", "question"],
        "path": ["1", "annotator/video"],
    }
    urls = set()
    for route, _ in _patterns(get_resolver()):
        route = route.lstrip("^").rstrip("$").replace("\\Z", "")
        if "(?P" in route:
            continue  # the admin's regular expressions: its pages are walked model by model
        fills = [[]]
        for kind in re.findall(r"<(?:(\w+):)?\w+>", route):
            fills = [[*f, value] for f in fills for value in samples.get(kind or "str", ["1"])]
        for fill in fills:
            parts = re.split(r"<(?:\w+:)?\w+>", route)
            filled = zip(parts, [*fill, ""], strict=True)
            urls.add("/" + "".join(part + value for part, value in filled))
    return urls


def _admin_urls(collection: dict) -> set[str]:
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    urls = set()
    for model, model_admin in admin.site._registry.items():
        names = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.add(reverse(f"{names}_changelist"))
        urls.add(reverse(f"{names}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            for view in ("change", "history", "delete"):
                try:
                    urls.add(reverse(f"{names}_{view}", args=[first.pk]))
                except NoReverseMatch:
                    continue
        for extra in model_admin.get_urls():
            if (
                extra.name
                and extra.name.startswith(f"{model._meta.app_label}_")
                and "<" not in (str(extra.pattern))
            ):
                urls.add(reverse(f"admin:{extra.name}"))
    urls.add(reverse("admin:index"))
    return urls


def _commands(work_dir: Path, collection: dict) -> None:
    from django.core.management import call_command, get_commands, load_command_class

    for name, app in get_commands().items():
        load_command_class(app, name)  # runlocal included: it only starts processes
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("check", **quiet)
    call_command("audit_rules", **quiet)
    call_command("export_avqa", str(work_dir / "export"), **quiet)
    call_command("import_avqa", str(work_dir / "export" / "avqa-train.json"), **quiet)
    call_command("import_videos", collection["video"].file.path, **quiet)
    call_command("worker_token", file=work_dir / "token", **quiet)


def main() -> None:
    work_dir = Path(sys.argv[1]).resolve()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    collection = _collection()
    users = collection["users"]
    clients = {}
    for role in ("annotator1", "reviewer", "admin"):
        clients[role] = Client()
        clients[role].force_login(users[role])
    statuses: Counter[int] = Counter()
    failures = []

    def get(client: Client, url: str) -> None:
        status = client.get(url).status_code
        statuses[status] += 1
        if status >= 500:
            failures.append(url)

    for url in sorted(_urls(collection)):
        for client in clients.values():
            get(client, url)
    for url in sorted(_admin_urls(collection)):
        get(clients["admin"], url)
    annotator = clients["annotator1"]
    started = annotator.post(
        "/api/watch-sessions/", {"video": collection["video"].pk}, content_type="application/json"
    )
    beat = {"position": 1.0, "playing": True, "visible": True, "muted": False, "rate": 1.0}
    annotator.post(
        f"/api/watch-sessions/{started.json()['id']}/heartbeat/",
        beat,
        content_type="application/json",
    )
    annotator.post("/ask/skip/", {"video": collection["video"].pk})
    _commands(work_dir, collection)
    watched = ("torch", "torchvision", "qa_model.features", "qa_model.data", "qa_model.training")
    print(
        json.dumps(
            {
                "imported": [name for name in watched if name in sys.modules],
                "statuses": statuses,
                "failures": failures,
            }
        )
    )


if __name__ == "__main__":
    main()
