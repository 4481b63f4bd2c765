"""The admin's dataset export: the accepted pairs as a MUSIC-AVQA zip (annotator/export.py
writes its files)."""

from __future__ import annotations

import io
import json
import zipfile

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from annotator.export import dataset_export, votes_file


class DatasetExportView:
    """For the questions' admin: the export at export/ (its list's template links to it)."""

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_dataset)
        own = path("export/", export, name="annotator_question_export")
        return [own, *super().get_urls()]

    def export_dataset(self, request: HttpRequest) -> HttpResponse:
        """The accepted pairs as a MUSIC-AVQA dataset: a zip of the split files, provenance and
        manifest; with ?votes=1 also every raw vote (pseudonymous)."""
        dataset = dataset_export()
        files = dataset.files()
        if request.GET.get("votes") == "1":
            files["votes.json"] = votes_file()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
            archive.writestr("manifest.json", json.dumps(dataset.manifest(), indent=2) + "\n")
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="avqa-export-{stamp}.zip"'
        return response
