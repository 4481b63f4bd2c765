"""make deploy-check: docker-compose.yml started on a real Docker engine and checked from outside.

    python -m deploy.check [--compose v2|v1] [--keep]

It needs root (dockerd) and Debian's packages: docker.io, debootstrap and docker-compose 1.29
are installed with apt when missing, and Compose v2 is taken from Debian's next release (one
static binary). A dockerd of its own runs on its own data root, exec root and socket, and is
stopped by its pid at the end. No image registry is needed: the base images (Python, nginx,
PostgreSQL, Redis) are built from a debootstrapped Debian and substituted through build
arguments and the test-only deploy/check/docker-compose.check.yml; pip installs from wheels
downloaded on the host. Everything it downloads and builds is cached in DEPLOY_CHECK_CACHE
(default ~/.cache/avqa-deploy-check; about 20 GB) so a second run starts warm.

The checks, through the proxy over https (self-signed certificate, verified as such): http
redirects; sign-in; the admin uploads two videos; one annotator watches and asks, two others
answer through the API until the pairs are accepted; the admin lists them; a video plays with a
range the proxy serves; /healthz answers while slow-body connections are open; a 2 GB upload is
refused by the proxy without reaching gunicorn; the gpu worker extracts features, trains and
posts predictions; `restart` and `down`/`up` keep everything; a forged X-Forwarded-For does not
escape the sign-in limit. Each step's time is printed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("DEPLOY_CHECK_CACHE", Path.home() / ".cache" / "avqa-deploy-check"))
PROJECT = "avqa-check"
HTTPS_PORT = int(os.environ.get("DEPLOY_CHECK_HTTPS_PORT", "18443"))
HTTP_PORT = int(os.environ.get("DEPLOY_CHECK_HTTP_PORT", "18080"))
BASE = f"https://localhost:{HTTPS_PORT}"
PASSWORD = "deploy-check-password-1"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# What the check's .env sets: a quick watch gate and model loop, and a sign-in limit per address
# small enough to reach at the end.
CHECK_ENV = {
    "COMPOSE_PROJECT_NAME": PROJECT,
    "HTTPS_PORT": str(HTTPS_PORT),
    "HTTP_PORT": str(HTTP_PORT),
    "WATCH_MIN_SECONDS": "4",
    "RETRAIN_INTERVAL_SECONDS": "10",
    "RETRAIN_MIN_NEW": "2",
    "TRAIN_MIN_PAIRS": "1",
    "TRAIN_EPOCHS": "2",
    "LOGIN_RATE_PER_IP": "8/15m",
}
TIMES: list[tuple[str, float]] = []


class CheckFailed(AssertionError):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@contextmanager
def step(name: str) -> Iterator[None]:
    print(f"\n== {name}", flush=True)
    started = time.monotonic()
    yield
    TIMES.append((name, time.monotonic() - started))
    print(f"   ok ({TIMES[-1][1]:.1f} s)", flush=True)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except (requests.RequestException, OSError, subprocess.CalledProcessError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)


def sh(*command: str, **options) -> subprocess.CompletedProcess:
    options.setdefault("check", True)
    return subprocess.run(command, **options)


# --- The engine and the images ----------------------------------------------------------------
class Engine:
    """A dockerd of this check's own: its data root in the cache (images survive for the next
    run), its exec root and socket under a short temporary path (unix sockets are short)."""

    def __init__(self) -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix="avqa-dc-"))
        self.socket = self.run_dir / "docker.sock"
        self.environment = {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.stop_left_over()
        log = (CACHE / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(CACHE / "docker"),
                "--exec-root",
                str(self.run_dir / "exec"),
                "--pidfile",
                str(self.run_dir / "docker.pid"),
                "--host",
                f"unix://{self.socket}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        (CACHE / "dockerd.pid").write_text(str(self.process.pid))
        wait_until(
            lambda: self.docker("info", capture_output=True).returncode == 0,
            "dockerd to answer",
            timeout=60,
        )

    @staticmethod
    def stop_left_over() -> None:
        """The dockerd a `--keep` run left on this data root (two cannot share it)."""
        pidfile = CACHE / "dockerd.pid"
        try:
            pid = int(pidfile.read_text())
            if "dockerd" not in Path(f"/proc/{pid}/cmdline").read_text():
                return
        except (OSError, ValueError):
            return
        print(f"   stopping the dockerd left by an earlier --keep run (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not Path(f"/proc/{pid}").exists(), "it to stop", timeout=60)

    def docker(self, *args: str, **options) -> subprocess.CompletedProcess:
        options.setdefault("check", False)
        return sh("docker", *args, env=self.environment, **options)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def tools() -> dict[str, str]:
    """dockerd, debootstrap and docker-compose 1.29 from this Debian; Compose v2 (one static
    binary) from the package of Debian's next release, unpacked into the cache."""
    check(os.geteuid() == 0, "deploy-check needs root: it runs its own dockerd")
    missing = [
        package
        for command, package in (
            ("dockerd", "docker.io"),
            ("debootstrap", "debootstrap"),
            ("docker-compose", "docker-compose"),
        )
        if not shutil.which(command)
    ]
    if missing:
        sh("apt-get", "install", "-y", "-q", *missing, stdout=subprocess.DEVNULL)
    v2 = CACHE / "bin" / "docker-compose-v2"
    if not v2.exists():
        apt = CACHE / "apt-trixie"
        (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (apt / "sources.list").write_text(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
            f"{DEBIAN_MIRROR} trixie main\n"
        )
        options = [
            "-o",
            f"Dir::Etc::SourceList={apt / 'sources.list'}",
            "-o",
            "Dir::Etc::SourceParts=/dev/null",
            "-o",
            f"Dir::State::Lists={apt / 'lists'}",
        ]
        sh("apt-get", *options, "update", stdout=subprocess.DEVNULL)
        sh("apt-get", *options, "download", "docker-compose", cwd=apt, stdout=subprocess.DEVNULL)
        package = next(apt.glob("docker-compose_2*.deb"))
        sh("dpkg-deb", "-x", str(package), str(apt / "root"))
        v2.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(apt / "root/usr/libexec/docker/cli-plugins/docker-compose", v2)
    return {"v2": str(v2), "v1": shutil.which("docker-compose") or "docker-compose"}


def base_images(engine: Engine) -> None:
    """avqa-check/debian from debootstrap, then the stand-ins for the public base images."""
    if (
        engine.docker(
            "image", "inspect", "avqa-check/debian:bookworm", capture_output=True
        ).returncode
        != 0
    ):
        rootfs = CACHE / "rootfs"
        if not (rootfs / "etc" / "debian_version").exists():
            shutil.rmtree(rootfs, ignore_errors=True)
            sh(
                "debootstrap",
                "--variant=minbase",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
                stdout=subprocess.DEVNULL,
            )
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        engine.docker(
            "import",
            "-",
            "avqa-check/debian:bookworm",
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tar.wait()
    images = HERE / "images"
    for name in ("postgres", "redis", "nginx"):
        engine.docker(
            "build",
            "-q",
            "-t",
            f"avqa-check/{name}",
            "-f",
            str(images / f"{name}.Dockerfile"),
            str(images),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    # Python with the wheels of requirements.txt, downloaded here (containers reach no PyPI).
    context = CACHE / "python-context"
    wheels = context / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    log = (CACHE / "pip-download.log").open("ab")
    download = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-d"]
    sh(*download, str(wheels), "-r", str(ROOT / "requirements.txt"), stdout=log, stderr=log)
    # Debian's Python is 3.11.2, older than this host's: redis needs async-timeout before 3.11.3.
    sh(*download, str(wheels), "async-timeout>=4.0.3", stdout=log, stderr=log)
    shutil.copy(images / "python.Dockerfile", context / "Dockerfile")
    # Sending gigabytes of wheels to the engine takes a minute: only when they changed.
    built = context / "built-from"
    contents = "\n".join(sorted(path.name for path in wheels.iterdir()))
    contents += "\n" + (context / "Dockerfile").read_text()
    image = engine.docker("image", "inspect", "avqa-check/python:3.11", capture_output=True)
    if image.returncode == 0 and built.exists() and built.read_text() == contents:
        return
    engine.docker(
        "build",
        "-q",
        "-t",
        "avqa-check/python:3.11",
        str(context),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    built.write_text(contents)


# --- The stack --------------------------------------------------------------------------------
class Stack:
    def __init__(self, engine: Engine, compose: str) -> None:
        self.engine = engine
        self.env_file = CACHE / "check.env"
        self.env_file.write_text("".join(f"{key}={value}\n" for key, value in CHECK_ENV.items()))
        self.base = [
            compose,
            "--project-name",
            PROJECT,
            "--project-directory",
            str(ROOT),
            "--file",
            str(ROOT / "docker-compose.yml"),
            "--file",
            str(HERE / "docker-compose.check.yml"),
            "--env-file",
            str(self.env_file),
        ]
        self.state: dict = {}

    def compose(self, *args: str, **options) -> subprocess.CompletedProcess:
        options.setdefault("check", True)
        return sh(*self.base, *args, env=self.engine.environment, **options)

    def containers(self) -> list[dict]:
        ids = self.engine.docker(
            "ps",
            "-aq",
            "--filter",
            f"label=com.docker.compose.project={PROJECT}",
            capture_output=True,
            text=True,
        ).stdout.split()
        if not ids:
            return []
        found = self.engine.docker("inspect", *ids, capture_output=True, text=True, check=True)
        return json.loads(found.stdout)

    def healthy(self) -> bool:
        """Every long-running service up (and healthy where it has a healthcheck), every
        one-shot exited 0; a one-shot that failed ends the wait at once."""
        states = {}
        for container in self.containers():
            service = container["Config"]["Labels"]["com.docker.compose.service"]
            state = container["State"]
            if service in ("keys", "init"):
                if state["Status"] == "exited" and state["ExitCode"] != 0:
                    logs = self.compose(
                        "logs", "--no-color", service, capture_output=True, text=True, check=False
                    ).stdout
                    raise CheckFailed(f"{service} exited {state['ExitCode']}:\n{logs[-3000:]}")
                states[service] = state["Status"] == "exited"
            else:
                if container["RestartCount"] > 0:  # crashed and restarted by its policy
                    logs = self.logs(service)
                    raise CheckFailed(f"{service} keeps crashing:\n{logs[-3000:]}")
                started = datetime.fromisoformat(state["StartedAt"][:26].rstrip("Z") + "+00:00")
                settled = datetime.now(UTC) - started > timedelta(seconds=10)
                health = state.get("Health", {}).get("Status")
                states[service] = state["Running"] and (health == "healthy" if health else settled)
        expected = {
            "keys",
            "postgres",
            "redis",
            "init",
            "web",
            "proxy",
            "worker",
            "beat",
            "gpu-worker",
        }
        return set(states) == expected and all(states.values())

    def wait_healthy(self, timeout: float = 300) -> None:
        wait_until(self.healthy, "every service to be healthy", timeout=timeout)

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service, capture_output=True, text=True).stdout

    def manage(self, *args: str, **environment: str) -> str:
        flags = [part for key, value in environment.items() for part in ("-e", f"{key}={value}")]
        return self.compose(
            "exec",
            "-T",
            *flags,
            "web",
            "python",
            "manage.py",
            *args,
            capture_output=True,
            text=True,
        ).stdout

    def query(self, code: str) -> object:
        """A value from the running app's database (json printed by manage.py shell)."""
        out = self.manage("shell", "-c", f"import json; print(json.dumps({code}))")
        return json.loads(out.strip().splitlines()[-1])


# --- People -----------------------------------------------------------------------------------
def browser(cafile: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the proxy's certificate
    session.verify = cafile
    return session


def sign_in(session: requests.Session, path: str, username: str) -> requests.Response:
    form = session.get(BASE + path, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return session.post(
        BASE + path,
        timeout=30,
        headers={"Referer": BASE + path},
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
            "next": "/admin/" if path.startswith("/admin") else "/",
        },
    )


class Annotator:
    def __init__(self, cafile: str, username: str) -> None:
        self.api = browser(cafile)
        response = self.api.post(
            BASE + "/api/auth/token/", timeout=30, data={"username": username, "password": PASSWORD}
        )
        check(response.status_code == 200, f"{username} cannot sign in: {response.text}")
        self.api.headers["Authorization"] = f"Token {response.json()['token']}"

    def post(self, path: str, body: dict) -> dict:
        response = self.api.post(f"{BASE}/api/{path}", json=body, timeout=30)
        check(
            response.status_code in (200, 201),
            f"POST {path}: {response.status_code} {response.text}",
        )
        return response.json()

    def watch(self, video: int, seconds: float) -> int:
        """Plays the clip with heartbeats every second, as the player does, until unlocked."""
        session = self.post("watch-sessions/", {"video": video})["id"]
        position, started = 0.0, time.monotonic()
        while True:
            time.sleep(1.0)
            position = time.monotonic() - started
            beat = {
                "position": position,
                "playing": True,
                "visible": True,
                "muted": False,
                "rate": 1.0,
            }
            if self.post(f"watch-sessions/{session}/heartbeat/", beat)["unlocked"]:
                return session
            check(position < seconds + 30, "the watch gate never unlocked")

    def ask(self, video: int, seconds: float) -> dict:
        templates = self.api.get(f"{BASE}/api/videos/{video}/templates/", timeout=30).json()
        template = templates[0]
        slots = [
            slot["choices"][index % len(slot["choices"])]
            for index, slot in enumerate(template["slots"])
        ]
        session = self.watch(video, seconds)
        return self.post(
            "questions/",
            {
                "video": video,
                "template": template["id"],
                "slot_values": slots,
                "watch_session": session,
            },
        )

    def answer_all(self, seconds: float) -> int:
        answered = 0
        while True:
            response = self.api.get(f"{BASE}/api/questions/next/", timeout=30)
            if response.status_code != 200:
                return answered
            question = response.json()
            session = self.watch(question["video"]["id"], seconds)
            self.post(
                f"questions/{question['id']}/votes/",
                {"watch_session": session, "answer": question["answers"][0]},
            )
            answered += 1


# --- The checks -------------------------------------------------------------------------------
def certificate(cache: Path) -> tuple[str, str]:
    """The proxy's certificate, saved to verify every later request against (a self-signed one
    is its own authority), and its fingerprint."""
    pem = ssl.get_server_certificate(("127.0.0.1", HTTPS_PORT))
    path = cache / "proxy.crt"
    path.write_text(pem)
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    return str(path), fingerprint


def videos_for_both_splits(folder: Path) -> list[Path]:
    """Two 60-s synthetic clips whose names put one in the training split and one in the test
    split (the split hashes the video id, the file's stem)."""
    from qa_model.records import split_of
    from qa_model.synthetic import Scene, render_scene

    wanted, clips = ["train", "test"], []
    for number in range(10_000):
        name = f"deploy{number:04d}"
        if split_of(name) in wanted:
            wanted.remove(split_of(name))
            clips.append(render_scene(Scene.random(number), folder / f"{name}.mp4", fps=4))
        if not wanted:
            return clips
    raise CheckFailed("no video ids for both splits")


def slow_bodies(count: int) -> list[ssl.SSLSocket]:
    """Connections that send a request's headers and a sliver of its body, then nothing."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    held = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=10)
        conn = context.wrap_socket(raw, server_hostname="localhost")
        conn.sendall(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\nusername=slo"
        )
        held.append(conn)
    return held


def huge_upload(admin: requests.Session, probe: str) -> tuple[int, float]:
    """Announces 2 GB to the admin's upload and sends 1 MB of it; the proxy's answer."""
    context = ssl.create_default_context(cafile=admin.verify)
    raw = socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=30)
    conn = context.wrap_socket(raw, server_hostname="localhost")
    cookies = "; ".join(f"{c.name}={c.value}" for c in admin.cookies)
    started = time.monotonic()
    conn.sendall(
        (
            f"POST /admin/annotator/video/upload/?probe={probe} HTTP/1.1\r\n"
            f"Host: localhost:{HTTPS_PORT}\r\nCookie: {cookies}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {2 * 1024**3}\r\n\r\n"
        ).encode()
    )
    try:
        for _ in range(16):
            conn.sendall(b"\0" * 65536)
    except OSError:
        pass  # the proxy may close before the sliver is sent
    answer = conn.recv(4096).decode(errors="replace")
    conn.close()
    return int(answer.split()[1]), time.monotonic() - started


def run_checks(stack: Stack, work: Path) -> None:
    with step("http redirects to https; the certificate is self-signed for localhost"):
        response = requests.get(
            f"http://127.0.0.1:{HTTP_PORT}/ask/?x=1", allow_redirects=False, timeout=10
        )
        check(response.status_code == 301, f"http answered {response.status_code}")
        check(
            response.headers["Location"] == f"https://127.0.0.1:{HTTPS_PORT}/ask/?x=1",
            response.headers["Location"],
        )
        cafile, fingerprint = certificate(work)
        check(
            requests.get(BASE + "/healthz", verify=cafile, timeout=10).json()["status"] == "ok",
            "healthz over https",
        )
        published = stack.compose(
            "port", "web", "8000", capture_output=True, text=True, check=False
        )
        check(
            not published.stdout.strip().strip(":0"), f"gunicorn is published: {published.stdout}"
        )

    with step("accounts (manage.py in the web container)"):
        stack.manage(
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.org",
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        stack.manage(
            "shell",
            "-c",
            "from annotator import accounts; [accounts.annotator_create("
            f"username=name, password='{PASSWORD}') for name in ('alice', 'bob', 'carol')]",
        )

    with step("the admin signs in and uploads two videos through the proxy"):
        admin = browser(cafile)
        response = sign_in(admin, "/admin/login/", "admin")
        check(response.url.rstrip("/").endswith("/admin"), f"admin sign-in: {response.url}")
        page = admin.get(BASE + "/admin/annotator/video/upload/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        clips = videos_for_both_splits(work)
        files = [("files", (clip.name, clip.read_bytes(), "video/mp4")) for clip in clips]
        response = admin.post(
            BASE + "/admin/annotator/video/upload/",
            files=files,
            timeout=300,
            data={"csrfmiddlewaretoken": token},
            headers={"Referer": BASE + "/admin/annotator/video/upload/"},
        )
        check(response.ok, f"upload: {response.status_code}")
        check("/admin/annotator/videoimport/" in response.url, f"upload led to {response.url}")
        # The upload only queues the import; the worker transcodes and checks the clips.
        deadline = time.monotonic() + 300
        while True:
            state = stack.query(
                "list(__import__('annotator.models').models.VideoImport.objects"
                ".values_list('status', 'clips_made', 'outcomes'))"
            )
            if (state and state[0][0] in ("done", "failed")) or time.monotonic() > deadline:
                break
            time.sleep(2)
        check(
            bool(state) and tuple(state[0][:2]) == ("done", 2), f"the import on the worker: {state}"
        )
        videos = stack.query(
            "list(__import__('annotator.models').models.Video.objects"
            ".order_by('pk').values_list('pk', flat=True))"
        )
        check(len(videos) == 2, f"videos after the upload: {videos}")
        listing = admin.get(BASE + "/admin/annotator/video/", timeout=30).text
        check(all(clip.stem in listing for clip in clips), "the admin lists the videos")

    watch = float(CHECK_ENV["WATCH_MIN_SECONDS"])
    with step("alice watches and asks; bob and carol answer through the API until accepted"):
        alice, bob, carol = (Annotator(cafile, name) for name in ("alice", "bob", "carol"))
        asked = [alice.ask(video, watch) for video in videos]
        answered = {}
        threads = [
            threading.Thread(target=lambda who=who: answered.update({who: who.answer_all(watch)}))
            for who in (bob, carol)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = stack.query(
            "list(__import__('annotator.models').models.Question.objects"
            ".order_by('pk').values_list('status', flat=True))"
        )
        check(statuses == ["accepted", "accepted"], f"question statuses: {statuses}")
        questions = admin.get(BASE + "/admin/annotator/question/", timeout=30).text
        check(all(str(q["id"]) in questions for q in asked), "the admin lists the questions")
        check("accepted" in questions.lower(), "the admin shows them accepted")

    with step("a video plays with a range that the proxy serves"):
        url = f"{BASE}/videos/{videos[0]}/stream/"
        whole = admin.get(url, timeout=60)
        part = admin.get(url, headers={"Range": "bytes=1000-1999"}, timeout=60)
        check(whole.status_code == 200 and len(whole.content) > 10_000, "whole video")
        check(part.status_code == 206 and part.content == whole.content[1000:2000], "range")
        check(
            part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole.content)}",
            part.headers.get("Content-Range"),
        )
        lines = [line for line in stack.logs("web").splitlines() if "/stream/ HTTP" in line]
        check(
            lines and all(re.search(r'" 200 (0|-) ', line) for line in lines),
            f"gunicorn sent video bytes: {lines}",
        )
        check(
            admin.get(BASE + "/_protected/media/", timeout=10).status_code == 404,
            "the internal location is not public",
        )
        static = admin.get(BASE + "/static/admin/css/base.css", timeout=10)
        check(
            static.ok and static.headers.get("Cache-Control") == "max-age=3600",
            f"static files from the proxy: {static.status_code} {static.headers}",
        )

    with step("/healthz answers while six slow-body connections are open"):
        held = slow_bodies(6)
        started = time.monotonic()
        health = requests.get(BASE + "/healthz", verify=cafile, timeout=10)
        took = time.monotonic() - started
        for conn in held:
            conn.close()
        check(
            health.status_code == 200 and took < 5, f"healthz: {health.status_code} in {took:.1f} s"
        )
        print(
            f"   healthz in {took * 1000:.0f} ms with 6 slow bodies open (gunicorn has 3 workers)"
        )

    with step("a 2 GB upload is refused by the proxy and never reaches gunicorn"):
        probe = uuid.uuid4().hex
        status, took = huge_upload(admin, probe)
        check(status == 413, f"the proxy answered {status}")
        check(probe not in stack.logs("web"), "the upload reached gunicorn")
        print(f"   413 after {took:.2f} s")

    with step("the gpu worker extracts features, trains and posts predictions"):
        check(
            wait_until(
                lambda: re.search(r"gpu@\S+ ready", stack.logs("gpu-worker")),
                "the gpu worker to register",
                timeout=120,
            ),
            "",
        )
        wait_until(
            lambda: (
                stack.query(
                    "__import__('annotator.models').models.Video.objects"
                    ".filter(feature_status='ready').count()"
                )
                == 2
            ),
            "features of both videos",
            timeout=600,
        )
        wait_until(
            lambda: (
                stack.query("__import__('annotator.models').models.Prediction.objects.count()") >= 2
            ),
            "a trained version's predictions",
            timeout=900,
        )
        model = admin.get(BASE + "/review/model/", timeout=30).text
        check("v1" in model, "the model page shows v1")

    stack.state = {
        "admin": admin,
        "alice": alice,
        "asked": asked,
        "videos": videos,
        "fingerprint": fingerprint,
        "cafile": cafile,
    }


def still_there(stack: Stack) -> None:
    """After a restart: the same certificate, session, token, questions and video file."""
    state = stack.state
    _, fingerprint = certificate(Path(state["cafile"]).parent)
    check(fingerprint == state["fingerprint"], "the certificate changed")
    admin, alice = state["admin"], state["alice"]
    response = admin.get(BASE + "/admin/annotator/question/", timeout=30)
    check(response.ok and "/admin/login/" not in response.url, "the admin's session was lost")
    check(all(str(q["id"]) in response.text for q in state["asked"]), "questions lost")
    mine = alice.api.get(BASE + "/api/me/contributions/", timeout=30)
    check(mine.ok, f"alice's token: {mine.status_code}")
    part = admin.get(
        f"{BASE}/videos/{state['videos'][0]}/stream/", timeout=30, headers={"Range": "bytes=0-99"}
    )
    check(part.status_code == 206 and len(part.content) == 100, "the video file")
    check(
        stack.query("__import__('annotator.models').models.ModelVersion.objects.count()") >= 1,
        "the model version",
    )


def forged_forwarding(stack: Stack) -> None:
    with step("a forged X-Forwarded-For does not escape the sign-in limit per address"):
        cafile = stack.state["cafile"]
        limit = int(CHECK_ENV["LOGIN_RATE_PER_IP"].split("/")[0])
        codes = []
        for attempt in range(limit + 2):
            response = requests.post(
                BASE + "/api/auth/token/",
                verify=cafile,
                timeout=30,
                data={"username": f"nobody{attempt}", "password": "wrong"},
                headers={"X-Forwarded-For": f"10.9.{attempt}.1"},
            )
            codes.append(response.status_code)
        check(codes[-1] == 429, f"answers: {codes}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compose", choices=("v2", "v1"), default="v2")
    parser.add_argument("--keep", action="store_true", help="leave the stack and its volumes")
    options = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    started = time.monotonic()
    try:
        with step("tools (docker.io, debootstrap, docker-compose 1.29 and v2)"):
            binaries = tools()
        with step("dockerd on its own data root, exec root and socket"):
            engine.start()
        with step("base images from Debian's packages, wheels from the host"):
            base_images(engine)
        stack = Stack(engine, binaries[options.compose])
        print(stack.compose("version", capture_output=True, text=True).stdout.strip())
        stack.compose("down", "--volumes", "--remove-orphans", capture_output=True)
        with step("compose build"):
            stack.compose("build")
            # Each rebuild leaves the previous image of ~10 GB behind, untagged.
            engine.docker("image", "prune", "--force", capture_output=True)
        with step("compose up -d, until every healthcheck passes"):
            stack.compose("up", "-d")
            stack.wait_healthy()
        with tempfile.TemporaryDirectory() as work:
            run_checks(stack, Path(work))
            with step("compose restart: everything still there"):
                stack.compose("restart")
                stack.wait_healthy()
                still_there(stack)
            with step("compose down, then up -d: everything still there (volumes)"):
                stack.compose("down")
                stack.compose("up", "-d")
                stack.wait_healthy()
                still_there(stack)
            forged_forwarding(stack)
        if not options.keep:
            stack.compose("down", "--volumes", capture_output=True)
    except CheckFailed as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(
                f"\nkept: DOCKER_HOST={engine.environment['DOCKER_HOST']}, dockerd pid "
                f"{engine.process.pid if engine.process else '-'}; {BASE}"
            )
        else:
            engine.stop()
        print("\nstep times:")
        for name, seconds in TIMES:
            print(f"  {seconds:7.1f} s  {name}")
        print(f"  {time.monotonic() - started:7.1f} s  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
