"""Celery tasks: thin wrappers that call services."""

import logging

from celery import shared_task

from annotator import services

logger = logging.getLogger(__name__)


@shared_task
def watch_sessions_prune() -> int:
    """Periodic (beat): delete viewings that were never used and are too old to matter."""
    deleted = services.watch_sessions_prune()
    logger.info("pruned %d stale watch sessions", deleted)
    return deleted
