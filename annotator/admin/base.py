"""Pieces the registrations share: read-only admins, and pages that reload while work is in
progress."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponse


class RefreshingWhileInProgress:
    """An admin for work in progress (an import, a training run): its page reloads itself every
    `refresh_seconds` while `in_progress(obj)`, and its list while `in_progress(None)` (any)."""

    refresh_seconds = 5
    change_form_template = "admin/annotator/refreshing_change_form.html"

    def in_progress(self, obj: object | None) -> bool:
        return False

    def _refreshing(self, extra_context: dict | None, obj: object | None) -> dict:
        refresh = self.refresh_seconds if self.in_progress(obj) else None
        return {**(extra_context or {}), "refresh_seconds": refresh}

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        return super().changelist_view(request, self._refreshing(extra_context, None))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        # get_object answers None for an id that is not one (the admin routes any path here).
        obj = self.get_object(request, unquote(object_id))
        context = self._refreshing(extra_context, obj) if obj is not None else extra_context
        return super().change_view(request, object_id, form_url, context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records written only by the rules or the catalogue: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
