from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .roles import VIEWER, role_required


def placeholder(section: str, title: str, coming: str):  # type: ignore[no-untyped-def]
    """A page whose capability has not landed yet says what will appear there."""

    @require_GET
    @role_required(VIEWER)
    def view(request: HttpRequest) -> HttpResponse:
        return render(
            request, "placeholder.html", {"section": section, "title": title, "coming": coming}
        )

    view.__name__ = f"{section.replace('-', '_')}_placeholder"
    return view
