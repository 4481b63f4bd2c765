"""The admin's video upload: its page, and the view that streams the files to the media volume
and queues their import (annotator/imports.py), which runs on the worker."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_protect

from annotator import imports, uploads, video_import
from qa_model import media


class VideoUploadViews:
    """For the videos' admin: an upload page at upload/, where the add button leads."""

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload)
        return [path("upload/", upload, name="annotator_video_upload"), *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        return HttpResponseRedirect(reverse("admin:annotator_video_upload"))

    def upload(self, request: HttpRequest) -> HttpResponse:
        """Upload video files: each goes through the same import as `manage.py import_videos`.

        The upload handler must be set before anything reads the body, and CSRF protection reads
        it, so this view is exempt (see below) and checks the token itself once the handler has
        streamed (or refused) the files."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            context = {
                **self.admin_site.each_context(request),
                "title": "Upload videos",
                "opts": self.model._meta,
                "max_size": video_import.size_text(settings.IMPORT_MAX_BYTES),
            }
            return TemplateResponse(request, "admin/annotator/video/upload.html", context)
        handler = uploads.VideoUploadHandler(request)
        request.upload_handlers = [handler]
        uploaded = request.FILES.getlist("files")
        if handler.refusal:
            # A refused upload changes nothing but this message, so it needs no CSRF token (the
            # token is in the body, which was never read).
            self.message_user(request, handler.refusal, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:annotator_video_changelist"))
        return csrf_protect(self._import_uploads)(request, uploaded)

    upload.csrf_exempt = True  # admin_view then leaves CSRF to the view

    def _import_uploads(self, request: HttpRequest, uploaded: list) -> HttpResponse:
        if not uploaded:
            self.message_user(request, "Choose at least one file.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:annotator_video_upload"))
        # The files wait for the import job in a folder of their own on the media volume (the
        # worker reads it too), under the names their owner gave them, which the import reports
        # and makes ids of. The transcode runs there, never in this request.
        try:
            video_import.require_free_space(
                Path(settings.MEDIA_ROOT),
                sum(upload.size for upload in uploaded),
                name="The upload",
            )
        except media.MediaError as refusal:
            self.message_user(request, str(refusal), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:annotator_video_upload"))
        folder = imports.spool_folder()
        names = []
        for upload in uploaded:
            target = video_import.upload_path(folder, upload.name)
            shutil.move(upload.temporary_file_path(), target)
            upload.close()
            names.append(target.name)
        job = imports.import_queue(
            folder=folder,
            files=names,
            requested_by=request.user,
            random_offsets=bool(request.POST.get("random_offsets")),
            delete_files=True,
        )
        self.message_user(
            request,
            f"Import {job.pk} queued: {len(names)} file(s). This page follows its progress; "
            "each file's outcome is listed when it is done.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:annotator_videoimport_change", args=[job.pk]))
