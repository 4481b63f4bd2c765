from rest_framework.permissions import BasePermission

from annotator import errors, selectors


class IsAnnotator(BasePermission):
    """Signed in, active, and in the annotators group."""

    message = errors.NOT_AN_ANNOTATOR

    def has_permission(self, request, view) -> bool:
        return selectors.is_annotator(request.user)
