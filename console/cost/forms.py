"""The bill's filters: a month (YYYY-MM, not in the future) and an account."""

from __future__ import annotations

import re
from datetime import date, datetime

from django import forms

from clusters.models import AwsAccount

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class CostFilterForm(forms.Form):
    month = forms.CharField(required=False, max_length=7)
    account = forms.CharField(required=False, max_length=64)

    def __init__(self, *args: object, now: datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.now = now

    def clean_month(self) -> date:
        raw = (self.cleaned_data.get("month") or "").strip()
        current = date(self.now.year, self.now.month, 1)
        if not raw:
            return current
        match = _MONTH.match(raw)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
            raise forms.ValidationError("Give a month as YYYY-MM.")
        month = date(int(match[1]), int(match[2]), 1)
        if month > current:
            raise forms.ValidationError("That month has not begun.")
        return month

    def clean_account(self) -> str:
        name = (self.cleaned_data.get("account") or "").strip()
        if name and not AwsAccount.objects.filter(name=name).exists():
            raise forms.ValidationError("No such account.")
        return name

    def month_value(self) -> date:
        """The month asked for, or the current one if the input was invalid."""
        if self.is_valid():
            month: date = self.cleaned_data["month"]
            return month
        return date(self.now.year, self.now.month, 1)

    def account_value(self) -> str:
        if self.is_valid():
            return str(self.cleaned_data["account"])
        return ""
