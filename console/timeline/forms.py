"""Forms of the console pages."""

from __future__ import annotations

from django import forms

from clusters.models import EventSeverity, EventSource
from console.timeline.selectors import TimelineFilters

TIMELINE_FILTER_FIELDS = (
    "source",
    "severity",
    "cluster",
    "service",
    "instance",
    "task",
    "host",
    "container",
    "since",
    "until",
    "q",
)


class TimelineFilterForm(forms.Form):
    """The timeline's filters, read from the query string so a view can be shared."""

    # The messages list what is accepted and never repeat the value given (it may be
    # markup, and the exports answer it back in plain text and JSON).
    source = forms.ChoiceField(
        choices=[("", "Any source"), *EventSource.choices],
        required=False,
        error_messages={"invalid_choice": f"Must be one of {', '.join(EventSource.values)}."},
    )
    severity = forms.ChoiceField(
        choices=[("", "Any severity"), *EventSeverity.choices],
        required=False,
        error_messages={"invalid_choice": f"Must be one of {', '.join(EventSeverity.values)}."},
    )
    cluster = forms.CharField(max_length=2048, required=False, help_text="ARN or name")
    service = forms.CharField(max_length=2048, required=False, help_text="ARN or name")
    instance = forms.CharField(max_length=2048, required=False, help_text="ARN or id")
    task = forms.CharField(max_length=2048, required=False, help_text="ARN or id")
    host = forms.CharField(max_length=255, required=False, label="Docker host")
    container = forms.CharField(max_length=128, required=False, help_text="id or prefix")
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    q = forms.CharField(max_length=200, required=False, label="Search")

    def filters(self) -> TimelineFilters:
        """The valid filters; an invalid field is ignored (and shown as an error)."""
        if not self.is_bound:
            return TimelineFilters()
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        values: dict[str, object] = {}
        for name in TIMELINE_FILTER_FIELDS:
            value = data.get(name)
            if isinstance(value, str):
                value = value.strip()
            if value:
                values[name] = value
        return TimelineFilters(**values)  # type: ignore[arg-type]
