"""Celery broker settings shared by the web app's Celery app and the gpu worker's.

Plain Python (no Django), because the gpu worker never loads Django settings: it holds no
database credentials and reaches the app only through the REST API.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_QUEUE = "default"


def broker_settings(redis_url: str, var_dir: Path, *, task_time_limit: float) -> dict[str, object]:
    """broker_url, result_backend and transport options, as lowercase Celery settings.

    The visibility timeout is above the longest task (a training run): a message that is still
    being worked on must not be handed to a second worker. Runs are claimed by a conditional
    update anyway, so even that would do nothing twice.
    """
    visibility_timeout = int(task_time_limit * 1.25) + 60
    if redis_url:
        return {
            "broker_url": redis_url,
            "result_backend": redis_url,
            # A Redis host that does not answer at all (a network partition, not a refusal)
            # fails a connection in 2 s instead of the system's minutes, so a send after a
            # request's commit is bounded by its retry policy (modelloop.SEND_RETRY_POLICY).
            "broker_transport_options": {
                "visibility_timeout": visibility_timeout,
                "socket_connect_timeout": 2,
            },
            "result_backend_transport_options": {"visibility_timeout": visibility_timeout},
        }
    # Local mode: a broker made of files, so workers and beat run beside runserver with no
    # server. Producers and consumers share one folder.
    folder = var_dir / "broker"
    for sub in ("queue", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "result_backend": None,
        "broker_transport_options": {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
        },
    }
