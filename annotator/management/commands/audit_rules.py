"""Check every collection rule (W1, Q1–Q3, A1–A6) and the stored counts against the database,
and list what breaks one.

    manage.py audit_rules [--repair-counts]

Exits with status 1 when anything violates a rule or a stored count differs from a recount, so
a script or a cron job can alert on it. The counts (live questions per video, counted votes per
question) are kept by the services; a row changed by hand, outside them, can leave one wrong,
and `--repair-counts` rewrites those from a recount (the rules' findings are only reported).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotator import counts
from annotator.audit import COUNTS, rules_audit


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair-counts",
            action="store_true",
            help="rewrite the stored counts that differ from a recount of their rows",
        )

    def handle(self, *args: object, repair_counts: bool, **options: object) -> None:
        audit = rules_audit()
        self.stdout.write(audit.report())
        if repair_counts and audit.findings[COUNTS]:
            with transaction.atomic():
                repaired = counts.repair()
            self.stdout.write(f"repaired {repaired} stored count(s) from a recount")
            audit.findings[COUNTS] = counts.drift()
        drift = len(audit.findings[COUNTS])
        problems = []
        if audit.violations - drift:
            problems.append(f"{audit.violations - drift} rule violation(s)")
        if drift:
            problems.append(f"{drift} stored count(s) differ from a recount (--repair-counts)")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS("no rule violations; stored counts match"))
