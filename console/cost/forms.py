"""The bill's filters: a month (YYYY-MM, not in the future) and an account."""

from __future__ import annotations

from datetime import date, datetime

from django import forms

from clusters.cost import month_parse
from clusters.models import AwsAccount


class CostFilterForm(forms.Form):
    month = forms.CharField(required=False, max_length=7)
    account = forms.CharField(required=False, max_length=64)

    def __init__(self, *args: object, now: datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.now = now

    def clean_month(self) -> date:
        try:
            return month_parse(self.cleaned_data.get("month") or "", now=self.now)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

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
