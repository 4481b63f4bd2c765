"""Crowd load: simulated annotators doing the whole loop through the HTTP API, then an audit.

    .venv/bin/python -m bench.crowd [--annotators 200] [--seconds 180] [--wrong 0.1] [--random 0.05]
    .venv/bin/python -m bench.crowd --annotators 50,100,200,400    # one run per level

Each level gets a fresh PostgreSQL database (DATABASE_URL's, default avqa_crowd on this machine)
with the catalogue, `--videos` videos whose ground truth comes from synthetic scenes
(qa_model.synthetic: every answerable MUSIC-AVQA question of each scene and its answer), and one
token per annotator; then gunicorn serves it (`--web-workers`, as docker compose runs it) with
Redis (REDIS_URL) as the broker and cache. Every annotator, in a thread of its own, loops until the
time is up: it asks for a question to answer (or, a share of the time, a video to ask about),
watches the video by sending heartbeats every `--heartbeat` seconds until the server credits
WATCH_MIN_SECONDS, and submits: a question from a template open to it, with slot values true of
the scene, or a vote — the true answer, except a `--wrong` share of deliberately wrong answers and
a `--random` share of answers picked at random.

It prints requests/s and p50 / p95 / p99 latency per endpoint (client-side, the loopback round
trip included), then checks every collection rule against the database (annotator/audit.py: zero
violations required) and the accuracy of the accepted answers against the scenes' ground truth,
beside what the noise rate predicts. Exits 1 on a violation or a server error. Video streaming is
not part of the load: the player streams through the browser session, not the API.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = (
    "watch-start", "heartbeat", "next-question", "vote", "next-video", "templates", "question",
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- ground truth ------------------------------------------------------------------------------


def ground_truth(videos: int, seed: int) -> dict[str, list[dict]]:
    """Per video id: every question its scene answers, as {template, slot_values, text, answer}."""
    from qa_model.catalogue import template_fill
    from qa_model.synthetic import Scene, scene_records

    truth = {}
    for index in range(videos):
        video_id = f"crowd{seed:03d}{index:05d}"
        scene = Scene.random(seed * 1_000_003 + index)
        truth[video_id] = [
            {
                "template": record["question_content"],
                "slot_values": json.loads(record["templ_values"]),
                "text": template_fill(
                    record["question_content"], json.loads(record["templ_values"])
                ),
                "answer": record["anser"],
            }
            for record in scene_records(scene, video_id, first_question_id=1)
        ]
    return truth


# --- the server --------------------------------------------------------------------------------


def database_recreate(url: str) -> None:
    import psycopg2

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    connection = psycopg2.connect(parsed._replace(path="/postgres").geturl())
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "AVQA_VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "crowd-bench-" + "x" * 40),
        "DJANGO_DEBUG": "false",
        "WATCH_MIN_SECONDS": str(args.watch_seconds),
        # Nothing is sent to a gpu worker: the load is the annotators'.
        "GPU_QUEUE": "",
        "LOG_LEVEL": "WARNING",
    }


def seed(args: argparse.Namespace, truth: dict[str, list[dict]], annotators: int) -> list[str]:
    """Migrate, add the videos and the annotators; return one API token per annotator."""
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from annotator.accounts import annotator_create
    from annotator.models import Video

    call_command("migrate", verbosity=0)
    Video.objects.bulk_create(
        Video(avqa_id=video_id, title=video_id, file=f"videos/{video_id}.mp4",
              duration_seconds=60.0)
        for video_id in truth
    )  # fmt: skip
    tokens = []
    for number in range(annotators):
        user = annotator_create(username=f"crowd{number:04d}", password=None)
        tokens.append(Token.objects.create(user=user).key)
    return tokens


def gunicorn_start(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    log = open(Path(env["AVQA_VAR_DIR"]) / "gunicorn.log", "w")  # noqa: SIM115 (the server's)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return server
        except requests.RequestException:  # not listening yet, or a worker still booting
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"gunicorn did not start; see {log.name}")


# --- the annotators ----------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    refusals: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, seconds: float, status: int, body: object) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.statuses[endpoint][status] += 1
            if 400 <= status < 500 and isinstance(body, dict):
                self.refusals[f"{endpoint} {status} {body.get('code', '?')}"] += 1


class Annotator(threading.Thread):
    def __init__(self, number: int, token: str, url: str, truth: dict, stats: Stats,
                 args: argparse.Namespace, deadline: float) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.url, self.truth, self.stats, self.args, self.deadline = (
            url,
            truth,
            stats,
            args,
            deadline,
        )
        self.rng = random.Random(args.seed * 7919 + number)
        self.skipped_videos: list[int] = []
        self.skipped_questions: list[int] = []

    def call(self, endpoint: str, method: str, path: str, **kwargs: object) -> tuple[int, object]:
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.url + path, timeout=30, **kwargs)
        except requests.RequestException:
            self.stats.record(endpoint, time.perf_counter() - started, 599, None)
            return 599, None
        elapsed = time.perf_counter() - started
        body = response.json() if response.content else None
        self.stats.record(endpoint, elapsed, response.status_code, body)
        return response.status_code, body

    def run(self) -> None:
        # Annotators arrive over the ramp (by default one viewing's length), as people do; all
        # at once, they would stay in step, submitting in waves every viewing.
        time.sleep(self.rng.uniform(0, self.args.ramp))
        while time.monotonic() < self.deadline:
            asked = self.rng.random() < self.args.ask_share and self.ask()
            if not asked and not self.answer() and not self.ask():
                time.sleep(self.args.heartbeat)  # nothing to do now: come back later

    def watch(self, video: int, question: int | None = None) -> int | None:
        """Heartbeats until the server unlocks a submission; the viewing's id (None: time up).
        With `question`, the viewing is declared as being for answering it, as the pages do."""
        body = {"video": video} if question is None else {"video": video, "question": question}
        status, session = self.call("watch-start", "POST", "watch-sessions/", json=body)
        if status != 201:
            return None
        started = time.monotonic()
        while time.monotonic() < self.deadline:
            time.sleep(self.args.heartbeat * self.rng.uniform(0.8, 1.2))
            beat = {"position": time.monotonic() - started, "playing": True, "visible": True,
                    "muted": False, "rate": 1.0}  # fmt: skip
            status, body = self.call(
                "heartbeat", "POST", f"watch-sessions/{session['id']}/heartbeat/", json=beat
            )
            if status == 200 and body["unlocked"]:
                return session["id"]
        return None

    def ask(self) -> bool:
        exclude = ",".join(map(str, self.skipped_videos[-50:]))
        status, video = self.call("next-video", "GET", "videos/next/", params={"exclude": exclude})
        if status != 200:
            return False
        status, templates = self.call("templates", "GET", f"videos/{video['id']}/templates/")
        open_ids = {t["text"]: t["id"] for t in templates} if status == 200 else {}
        candidates = [q for q in self.truth[video["avqa_id"]] if q["template"] in open_ids]
        if not candidates:
            self.skipped_videos.append(video["id"])
            return False
        question = self.rng.choice(candidates)
        session = self.watch(video["id"])
        if session is None:
            return False
        self.call("question", "POST", "questions/", json={
            "video": video["id"], "template": open_ids[question["template"]],
            "slot_values": question["slot_values"], "watch_session": session,
        })  # fmt: skip
        return True

    def answer(self) -> bool:
        exclude = ",".join(map(str, self.skipped_questions[-50:]))
        status, question = self.call(
            "next-question", "GET", "questions/next/", params={"exclude": exclude}
        )
        if status != 200:
            return False
        truth = next(
            (q["answer"] for q in self.truth[question["video"]["avqa_id"]]
             if q["text"] == question["text"]),
            None,
        )  # fmt: skip
        session = self.watch(question["video"]["id"], question["id"])
        if session is None:
            return False
        choices = question["answers"]
        roll = self.rng.random()
        if truth not in choices or roll < self.args.random:
            answer = self.rng.choice(choices)
        elif roll < self.args.random + self.args.wrong:
            answer = self.rng.choice([c for c in choices if c != truth])
        else:
            answer = truth
        status, _ = self.call(
            "vote", "POST", f"questions/{question['id']}/votes/",
            json={"watch_session": session, "answer": answer},
        )  # fmt: skip
        if status != 201:
            self.skipped_questions.append(question["id"])
        return True


# --- a level -----------------------------------------------------------------------------------


def accepted_accuracy(truth: dict[str, list[dict]]) -> tuple[int, int]:
    from annotator.models import Question, QuestionStatus

    accepted = Question.objects.filter(status=QuestionStatus.ACCEPTED).select_related(
        "video", "template", "accepted_answer"
    )
    right = 0
    for question in accepted:
        true = {q["text"]: q["answer"] for q in truth[question.video.avqa_id]}
        right += true.get(question.text) == question.accepted_answer.text
    return right, accepted.count()


def level(args: argparse.Namespace, annotators: int, truth: dict, workdir: Path) -> dict:
    from django.db import connections

    connections.close_all()  # the previous level's, to the database dropped now
    database_recreate(args.database_url)
    env = environment(args, workdir)
    tokens = seed(args, truth, annotators)
    port = _free_port()
    server = gunicorn_start(env, port, args.web_workers)
    stats = Stats()
    try:
        started = time.monotonic()
        deadline = started + args.seconds
        crowd = [
            Annotator(n, token, f"http://127.0.0.1:{port}/api/", truth, stats, args, deadline)
            for n, token in enumerate(tokens)
        ]
        for annotator in crowd:
            annotator.start()
        for annotator in crowd:
            annotator.join(timeout=args.seconds + 60)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    from annotator.audit import rules_audit

    audit = rules_audit()
    right, accepted = accepted_accuracy(truth)
    every = [s for endpoint in stats.latencies.values() for s in endpoint]
    errors = sum(n for c in stats.statuses.values() for status, n in c.items() if status >= 500)
    return {
        "annotators": annotators, "seconds": elapsed, "stats": stats, "audit": audit,
        "requests": len(every), "rps": len(every) / elapsed, "errors": errors,
        "p95": _percentile(every, 0.95) if every else 0.0, "right": right, "accepted": accepted,
    }  # fmt: skip


def report(result: dict, args: argparse.Namespace) -> None:
    stats = result["stats"]
    print(
        f"\n{result['annotators']} annotators, {result['seconds']:.0f} s: {result['requests']} "
        f"requests, {result['rps']:.1f} requests/s, {result['errors']} server errors"
    )
    print(f"  {'endpoint':<14}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    for endpoint in ENDPOINTS:
        values = stats.latencies.get(endpoint)
        if not values:
            continue
        codes = " ".join(f"{code}×{n}" for code, n in sorted(stats.statuses[endpoint].items()))
        print(
            f"  {endpoint:<14}{len(values):>9}{1000 * statistics.median(values):>9.1f}"
            f"{1000 * _percentile(values, 0.95):>9.1f}{1000 * _percentile(values, 0.99):>9.1f}"
            f"  {codes}"
        )
    if stats.refusals:
        print("  refusals: " + ", ".join(f"{k} ×{n}" for k, n in stats.refusals.most_common()))
    print("  " + result["audit"].report().replace("\n", "\n  "))
    accepted, right = result["accepted"], result["right"]
    if accepted:
        print(
            f"  accepted answers right against the ground truth: {right}/{accepted} = "
            f"{right / accepted:.1%} (each vote right with p ≈ "
            f"{1 - args.wrong - args.random:.2f} + random hits)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", default="200", help="a number, or levels: 50,100,200")
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--wrong", type=float, default=0.1, help="share of wrong answers")
    parser.add_argument("--random", type=float, default=0.05, help="share of random answers")
    parser.add_argument("--ask-share", type=float, default=0.3)
    parser.add_argument("--heartbeat", type=float, default=4.0, help="seconds between heartbeats")
    parser.add_argument("--watch-seconds", type=float, default=30.0, help="WATCH_MIN_SECONDS")
    parser.add_argument("--ramp", type=float, help="seconds over which annotators arrive")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "CROWD_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/avqa_crowd"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("CROWD_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument("--workdir", default="var/bench/crowd")
    args = parser.parse_args()
    levels = [int(part) for part in args.annotators.split(",")]
    args.ramp = args.watch_seconds if args.ramp is None else args.ramp
    workdir = Path(args.workdir).resolve()
    (workdir / "var").mkdir(parents=True, exist_ok=True)
    # This process reads the same database as the server, to seed it and then audit it.
    os.environ.update(environment(args, workdir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    truth = ground_truth(args.videos, args.seed)
    results = []
    for annotators in levels:
        result = level(args, annotators, truth, workdir)
        report(result, args)
        results.append(result)
    if len(results) > 1:
        print("\nannotators  requests/s  p95 ms (all endpoints)  violations  server errors")
        for r in results:
            print(f"{r['annotators']:>10}{r['rps']:>12.1f}{1000 * r['p95']:>24.1f}"
                  f"{r['audit'].violations:>12}{r['errors']:>15}")  # fmt: skip
        fast = [r["annotators"] for r in results if r["p95"] < 0.1]
        print(f"most annotators at p95 < 100 ms: {max(fast) if fast else 'none of these levels'}")
    if any(r["audit"].violations or r["errors"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
