from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AnnotatorConfig(AppConfig):
    name = "annotator"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from annotator.aggregates import sqlite_functions_add

        connection_created.connect(sqlite_functions_add, dispatch_uid="annotator-sqlite-functions")
