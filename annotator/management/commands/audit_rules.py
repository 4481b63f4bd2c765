"""Check every collection rule (W1, Q1–Q3, A1–A6) against the database and list what breaks one.

    manage.py audit_rules

Exits with status 1 when anything violates a rule, so a script or a cron job can alert on it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotator.audit import rules_audit


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: object, **options: object) -> None:
        audit = rules_audit()
        self.stdout.write(audit.report())
        if audit.violations:
            raise CommandError(f"{audit.violations} rule violation(s)")
        self.stdout.write(self.style.SUCCESS("no rule violations"))
