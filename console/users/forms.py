"""Forms of the users pages: bad input comes back as inline errors, never a 500."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator

from clusters.core.roles import ADMIN, OPERATOR, VIEWER

ROLE_CHOICES = [
    (VIEWER, "Viewer: reads everything, changes nothing"),
    (OPERATOR, "Operator: syncs, redeploys, requests registrations, acts on containers"),
    (ADMIN, "Admin: approves registrations, admits instances, manages users and settings"),
]


class UserCreateForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they log in with: letters, digits and @ . + - _ (150 at most).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        required=False,
        help_text="Optional: where to reach them. Fleetdeck sends no mail.",
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=VIEWER, widget=forms.RadioSelect)

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"A user named {username} already exists.")
        return username


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, widget=forms.RadioSelect)


class ConfirmForm(forms.Form):
    """The account's username, sent with deactivate/reactivate/link buttons: the
    action applies only to the account the page showed (an empty or stale POST
    changes nothing)."""

    username = forms.CharField(max_length=150, widget=forms.HiddenInput)

    def __init__(self, *args: Any, subject: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subject = subject

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"])
        if username != self.subject.get_username():
            raise forms.ValidationError("This page is out of date: reload it and try again.")
        return username
