"""Crowd load: simulated annotators doing the whole loop through the HTTP API, then an audit.

    .venv/bin/python -m bench.crowd [--annotators 200] [--seconds 180] [--videos 9288]
    .venv/bin/python -m bench.crowd --annotators 100,200,400    # one run per level
    .venv/bin/python -m bench.crowd --capacity                   # heartbeats/s the server holds

Each level gets a fresh PostgreSQL database (CROWD_DATABASE_URL, default avqa_crowd on this
machine) with the catalogue, `--videos` videos (default 9,288, the size of MUSIC-AVQA) whose
ground truth comes from synthetic scenes (qa_model.synthetic: every answerable MUSIC-AVQA
question of each scene and its answer), and an API token and a signed-in browser session per
annotator; then gunicorn serves it (`--web-workers`, as docker compose runs it) with Redis
(CROWD_REDIS_URL) as the broker and cache. Every annotator, in a thread of its own, loops until
the time is up: it asks for a question to answer (or, a share of the time, a video to ask
about), opens a viewing and downloads the clip as a browser's player does (HTTP range requests
of `--clip-chunk` bytes, with its session cookie, until the whole `--clip-mb` file is in), sends
heartbeats every `--heartbeat` seconds until the server credits WATCH_MIN_SECONDS, and submits:
a question from a template open to it, with slot values true of the scene, or a vote — the true
answer, except a `--wrong` share of deliberately wrong answers and a `--random` share of answers
picked at random.

It prints requests/s and p50 / p95 / p99 latency per endpoint (client-side, the loopback round
trip included); the share of viewings wasted (watched to the end, then the submission refused
because someone else took the slot or decided the question meanwhile); every collection rule
checked against the database (annotator/audit.py: zero violations required); and the accuracy of
the accepted answers against the scenes' ground truth, beside what the noise rate predicts.
Exits 1 on a violation or a server error.

`--capacity` measures instead how many heartbeats a second the server answers with p95 under
100 ms: one open viewing per annotator, heartbeats sent at rising rates, `--capacity-seconds`
each (the per-user rate limit is lifted for this run; its Redis counter is still taken).
"""

from __future__ import annotations

import argparse
import gc
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

import requests

from bench.common import database_recreate, percentile, server_environment, service_arguments

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = (
    "watch-start",
    "clip",
    "heartbeat",
    "next-question",
    "vote",
    "next-video",
    "templates",
    "question",
)
# Refusals of a submission made after a full viewing because the work was taken meanwhile:
# the slot or the template by another question, or the question decided (then hidden, A4).
WASTED = {
    ("question", "VideoFull"),
    ("question", "TemplateTaken"),
    ("vote", "QuestionClosed"),
    ("vote", "NotFound"),
}
CLIP_NAME = "videos/crowd-clip.mp4"
CAPACITY_RATES = "50,100,150,200,250,300,350,400,500,600,800"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def environment(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        **server_environment(args, workdir),
        "WATCH_MIN_SECONDS": str(args.watch_seconds),
        "LOG_LEVEL": "WARNING",
    }


def clip_write(workdir: Path, megabytes: float) -> None:
    """The file every video's player downloads: incompressible bytes of a clip's size (a 60-s
    clip at 720p and about 1 Mbit/s is 7.5 MB). The server sends bytes; it never decodes them."""
    path = workdir / "media" / CLIP_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    size = int(megabytes * 1_000_000)
    if not path.exists() or path.stat().st_size != size:
        path.write_bytes(random.Random(0).randbytes(size))


@dataclass
class Person:
    token: str
    session: str  # the browser's session cookie, for the video file


def seed(args: argparse.Namespace, truth: dict[str, list[dict]], annotators: int) -> list[Person]:
    """Migrate, add the videos and the annotators; return their API tokens and sessions."""
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from annotator.accounts import annotator_create
    from annotator.models import Video

    call_command("migrate", verbosity=0)
    Video.objects.bulk_create(
        (
            Video(avqa_id=video_id, title=video_id, file=CLIP_NAME, duration_seconds=60.0)
            for video_id in truth
        ),
        batch_size=2000,
    )
    people = []
    for number in range(annotators):
        user = annotator_create(username=f"crowd{number:04d}", password=None)
        browser = Client()
        browser.force_login(user)
        token = Token.objects.create(user=user).key
        people.append(Person(token, browser.cookies["sessionid"].value))
    return people


def gunicorn_start(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    log = open(Path(env["AVQA_VAR_DIR"]) / "gunicorn.log", "w")  # noqa: SIM115 (the server's)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--access-logfile",
            str(Path(env["AVQA_VAR_DIR"]) / "access.log"),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
    watched: int = 0  # viewings watched to the end and followed by a submission
    wasted: int = 0  # of those, submissions refused because the work was taken meanwhile
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, seconds: float, status: int, body: object) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.statuses[endpoint][status] += 1
            if 400 <= status < 500 and isinstance(body, dict):
                self.refusals[f"{endpoint} {status} {body.get('code', '?')}"] += 1

    def submitted(self, endpoint: str, body: object) -> None:
        code = body.get("code") if isinstance(body, dict) else None
        with self.lock:
            self.watched += 1
            self.wasted += (endpoint, code) in WASTED


class Annotator(threading.Thread):
    def __init__(
        self,
        number: int,
        person: Person,
        url: str,
        truth: dict,
        stats: Stats,
        args: argparse.Namespace,
        deadline: float,
    ) -> None:
        super().__init__(daemon=True)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {person.token}"
        self.browser = requests.Session()  # the player: the session cookie, no token
        self.browser.cookies.set("sessionid", person.session)
        self.url, self.truth, self.stats, self.args = url, truth, stats, args
        self.deadline = deadline
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
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        self.stats.record(endpoint, elapsed, response.status_code, body)
        return response.status_code, body

    def clip(self, video: int) -> None:
        """Download the video as a player does: range requests until the whole file is in."""
        url = self.url.replace("/api/", f"/videos/{video}/stream/")
        start, size = 0, None
        while size is None or start < size:
            end = start + self.args.clip_chunk - 1
            started = time.perf_counter()
            try:
                with self.browser.get(
                    url, headers={"Range": f"bytes={start}-{end}"}, timeout=30, stream=True
                ) as response:
                    # Read in large pieces and keep none: the client's own CPU (and the GIL
                    # its threads share) should not be what is measured.
                    received = sum(len(piece) for piece in response.iter_content(1 << 20))
            except requests.RequestException:
                self.stats.record("clip", time.perf_counter() - started, 599, None)
                return
            self.stats.record("clip", time.perf_counter() - started, response.status_code, None)
            if response.status_code != 206 or not received:
                return
            size = int(response.headers["Content-Range"].rsplit("/", 1)[1])
            start += received

    def run(self) -> None:
        # Annotators arrive over the ramp (by default one viewing's length), as people do; all
        # at once, they would stay in step, submitting in waves every viewing.
        time.sleep(self.rng.uniform(0, self.args.ramp))
        while self.working():
            asked = self.rng.random() < self.args.ask_share and self.ask()
            if not asked and not self.answer() and not self.ask():
                time.sleep(self.args.heartbeat)  # nothing to do now: come back later

    def working(self) -> bool:
        """Whether there is time to start something. Nothing new starts once time is up: 200
        people all starting one last viewing at the same second would measure that stampede."""
        return time.monotonic() < self.deadline

    def watch(self, video: int, question: int | None = None) -> int | None:
        """Heartbeats until the server unlocks a submission; the viewing's id (None: time up).
        With `question`, the viewing is declared as being for answering it, as the pages do."""
        if not self.working():
            return None
        body = {"video": video} if question is None else {"video": video, "question": question}
        status, session = self.call("watch-start", "POST", "watch-sessions/", json=body)
        if status != 201:
            return None
        started = time.monotonic()
        self.clip(video)
        while time.monotonic() < self.deadline:
            time.sleep(self.args.heartbeat * self.rng.uniform(0.8, 1.2))
            beat = {
                "position": time.monotonic() - started,
                "playing": True,
                "visible": True,
                "muted": False,
                "rate": 1.0,
            }
            status, body = self.call(
                "heartbeat", "POST", f"watch-sessions/{session['id']}/heartbeat/", json=beat
            )
            if status == 200 and body["unlocked"]:
                return session["id"]
        return None

    def ask(self) -> bool:
        if not self.working():
            return False
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
        _, body = self.call(
            "question",
            "POST",
            "questions/",
            json={
                "video": video["id"],
                "template": open_ids[question["template"]],
                "slot_values": question["slot_values"],
                "watch_session": session,
            },
        )
        self.stats.submitted("question", body)
        return True

    def answer(self) -> bool:
        if not self.working():
            return False
        exclude = ",".join(map(str, self.skipped_questions[-50:]))
        status, question = self.call(
            "next-question", "GET", "questions/next/", params={"exclude": exclude}
        )
        if status != 200:
            return False
        truth = next(
            (
                q["answer"]
                for q in self.truth[question["video"]["avqa_id"]]
                if q["text"] == question["text"]
            ),
            None,
        )
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
        status, body = self.call(
            "vote",
            "POST",
            f"questions/{question['id']}/votes/",
            json={"watch_session": session, "answer": answer},
        )
        self.stats.submitted("vote", body)
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
    people = seed(args, truth, annotators)
    port = _free_port()
    server = gunicorn_start(env, port, args.web_workers)
    stats = Stats()
    try:
        started = time.monotonic()
        deadline = started + args.seconds
        crowd = [
            Annotator(n, person, f"http://127.0.0.1:{port}/api/", truth, stats, args, deadline)
            for n, person in enumerate(people)
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
    worst = max(
        (percentile(values, 0.95), endpoint) for endpoint, values in stats.latencies.items()
    )
    return {
        "annotators": annotators,
        "seconds": elapsed,
        "stats": stats,
        "audit": audit,
        "requests": len(every),
        "rps": len(every) / elapsed,
        "errors": errors,
        "p95": percentile(every, 0.95) if every else 0.0,
        "worst": worst,
        "right": right,
        "accepted": accepted,
        "wasted": stats.wasted / stats.watched if stats.watched else 0.0,
    }


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
            f"{1000 * percentile(values, 0.95):>9.1f}{1000 * percentile(values, 0.99):>9.1f}"
            f"  {codes}"
        )
    if stats.refusals:
        print("  refusals: " + ", ".join(f"{k} ×{n}" for k, n in stats.refusals.most_common()))
    print(
        f"  viewings wasted (watched, then refused because the work was taken): "
        f"{stats.wasted} of {stats.watched} = {result['wasted']:.1%}"
    )
    print("  " + result["audit"].report().replace("\n", "\n  "))
    accepted, right = result["accepted"], result["right"]
    if accepted:
        print(
            f"  accepted answers right against the ground truth: {right}/{accepted} = "
            f"{right / accepted:.1%} (each vote right with p ≈ "
            f"{1 - args.wrong - args.random:.2f} + random hits)"
        )


# --- heartbeat capacity --------------------------------------------------------------------------


def _heartbeats_at(
    rate: float, viewings: list[tuple[requests.Session, int]], url: str, seconds: float
) -> tuple[float, float]:
    """Send heartbeats at `rate` a second for `seconds`, spread over the viewings (a thread
    owns a share of them, so no two heartbeats wait on one viewing's lock); return the rate
    achieved and the p95 latency."""
    threads = min(len(viewings), 64)
    latencies: list[float] = []
    lock = threading.Lock()
    began = time.monotonic()
    deadline = began + seconds

    def send(own: list[tuple[requests.Session, int]]) -> None:
        interval, turn = threads / rate, 0
        next_at = time.monotonic() + random.random() * interval
        while next_at < deadline:
            time.sleep(max(0.0, next_at - time.monotonic()))
            http, viewing = own[turn % len(own)]
            beat = {
                "position": time.monotonic() - began + 1.0,
                "playing": True,
                "visible": True,
                "muted": False,
                "rate": 1.0,
            }
            started = time.perf_counter()
            response = http.post(f"{url}watch-sessions/{viewing}/heartbeat/", json=beat, timeout=30)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"heartbeat: HTTP {response.status_code} {response.text[:200]}")
            with lock:
                latencies.append(elapsed)
            turn += 1
            next_at = max(next_at + interval, time.monotonic())

    workers = [
        threading.Thread(target=send, args=(viewings[n::threads],), daemon=True)
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(latencies) / (time.monotonic() - began), percentile(latencies, 0.95)


def capacity(args: argparse.Namespace, workdir: Path) -> None:
    """Heartbeats a second answered with p95 under 100 ms, at rising rates."""
    from django.db import connections

    connections.close_all()
    database_recreate(args.database_url)
    # The per-user limit would cap each annotator at 2 heartbeats a second; lifted here (its
    # Redis counter is still read and written on every request).
    env = {**environment(args, workdir), "API_RATE_PER_USER": "1000000/min"}
    people = seed(args, {f"capacity{n:05d}": [] for n in range(args.videos)}, args.capacity_people)
    port = _free_port()
    server = gunicorn_start(env, port, args.web_workers)
    url = f"http://127.0.0.1:{port}/api/"
    try:
        viewings = []
        for number, person in enumerate(people):
            http = requests.Session()
            http.headers["Authorization"] = f"Token {person.token}"
            video = 1 + number * 31 % args.videos
            started = http.post(f"{url}watch-sessions/", json={"video": video}, timeout=30)
            viewings.append((http, started.json()["id"]))
        print(
            f"\nheartbeat capacity: {len(viewings)} viewings, {args.web_workers} gunicorn "
            f"workers, {args.capacity_seconds:.0f} s per rate"
        )
        print(f"  {'target/s':>9}{'achieved/s':>12}{'p95 ms':>9}")
        held = 0.0
        for rate in (int(part) for part in args.capacity_rates.split(",")):
            achieved, p95 = _heartbeats_at(rate, viewings, url, args.capacity_seconds)
            print(f"  {rate:>9}{achieved:>12.1f}{1000 * p95:>9.1f}", flush=True)
            if p95 < 0.1:
                held = max(held, achieved)
            if p95 >= 0.1 and achieved < 0.9 * rate:
                break  # saturated: higher rates only queue
        print(f"heartbeat capacity (p95 < 100 ms): {held:.0f} heartbeats/s")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", default="200", help="a number, or levels: 50,100,200")
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--videos", type=int, default=9288)
    parser.add_argument("--clip-mb", type=float, default=7.5, help="size of each clip, MB")
    parser.add_argument("--clip-chunk", type=int, default=1 << 20, help="bytes per range request")
    parser.add_argument("--capacity", action="store_true", help="measure heartbeat capacity")
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument("--capacity-rates", default=CAPACITY_RATES, help="heartbeats/s to try")
    parser.add_argument("--capacity-people", type=int, default=400)
    parser.add_argument("--wrong", type=float, default=0.1, help="share of wrong answers")
    parser.add_argument("--random", type=float, default=0.05, help="share of random answers")
    parser.add_argument("--ask-share", type=float, default=0.3)
    parser.add_argument("--heartbeat", type=float, default=4.0, help="seconds between heartbeats")
    parser.add_argument("--watch-seconds", type=float, default=30.0, help="WATCH_MIN_SECONDS")
    parser.add_argument("--ramp", type=float, help="seconds over which annotators arrive")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=0)
    service_arguments(parser, "crowd", redis_db=9)
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
    clip_write(workdir, args.clip_mb)
    if args.capacity:
        capacity(args, workdir)
        return
    truth = ground_truth(args.videos, args.seed)
    # Millions of long-lived objects (the ground truth of every scene, Django's): without this,
    # each full garbage collection would stop all annotator threads for a few hundred ms, and
    # the pause would show up as server latency in every request in flight.
    gc.freeze()
    results = []
    for annotators in levels:
        result = level(args, annotators, truth, workdir)
        report(result, args)
        results.append(result)
    if len(results) > 1:
        print(
            "\nannotators  requests/s  p95 ms (all)  worst p95 ms  endpoint   wasted  "
            "violations  server errors"
        )
        for r in results:
            worst, endpoint = r["worst"]
            print(
                f"{r['annotators']:>10}{r['rps']:>12.1f}{1000 * r['p95']:>14.1f}"
                f"{1000 * worst:>14.1f}  {endpoint:<9}{r['wasted']:>7.1%}"
                f"{r['audit'].violations:>12}{r['errors']:>15}"
            )
        fast = [r["annotators"] for r in results if r["worst"][0] < 0.1]
        print(
            f"most annotators with every endpoint at p95 < 100 ms: "
            f"{max(fast) if fast else 'none of these levels'}"
        )
    if any(r["audit"].violations or r["errors"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
