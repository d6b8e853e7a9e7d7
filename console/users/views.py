"""The users pages (admins only), the page of a user with no role yet, and the
set-password page a one-time link opens. Thin views: role check, then a selector
or a service (``accounts``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clusters.core.roles import ADMIN, role_required, user_role
from console.users import accounts
from console.users import selectors as sel
from console.users.forms import ConfirmForm, RoleForm, UserCreateForm
from console.users.links import link_valid_hours, set_password_link, set_password_tokens

SECTION = "users"


@require_GET
@role_required(ADMIN)
def user_list(request: HttpRequest) -> HttpResponse:
    context = {"section": SECTION, "rows": sel.user_rows(), "title": "Users"}
    return render(request, "console/users/list.html", context)


def _link_page(request: HttpRequest, user: Any, *, created: bool) -> HttpResponse:
    context = {
        "section": SECTION,
        "subject": user,
        "created": created,
        "link": set_password_link(request, user),
        "valid_hours": link_valid_hours(),
        "title": f"Set-password link for {user.get_username()}",
    }
    return render(request, "console/users/link.html", context)


@never_cache  # the answer holds a set-password link
@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def user_new(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accounts.user_create(
                actor=request.user,
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except accounts.UserChangeRefused as exc:
            form.add_error("username", str(exc))
        else:
            return _link_page(request, user, created=True)
    context = {"section": SECTION, "form": form, "title": "New user"}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "console/users/new.html", context, status=status)


def _detail(request: HttpRequest, pk: int, *, status: int = 200, **forms: Any) -> HttpResponse:
    context = sel.user_page(pk)
    subject = context["subject"]
    context.update(
        section=SECTION,
        title=f"User {subject.get_username()}",
        is_self=subject.pk == request.user.pk,
        role_form=forms.get("role_form") or RoleForm(initial={"role": context["role"]}),
        confirm_form=forms.get("confirm_form")
        or ConfirmForm(initial={"username": subject.get_username()}, subject=subject),
    )
    return render(request, "console/users/detail.html", context, status=status)


@require_GET
@role_required(ADMIN)
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


@require_POST
@role_required(ADMIN)
def user_role_change(request: HttpRequest, pk: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _detail(request, pk, role_form=form, status=400)
    try:
        user, changed = accounts.user_role_set(
            actor=request.user, user_id=pk, role=form.cleaned_data["role"], request=request
        )
    except accounts.UserChangeRefused as exc:
        form.add_error(None, str(exc))
        return _detail(request, pk, role_form=form, status=409)
    role = form.cleaned_data["role"]
    if changed:
        messages.success(request, f"{user.get_username()} is now {role}.")
    else:
        messages.info(request, f"{user.get_username()} already was {role}; nothing changed.")
    return redirect("users:detail", pk=pk)


def _confirmed(request: HttpRequest, pk: int) -> tuple[ConfirmForm, bool]:
    subject = get_object_or_404(get_user_model(), pk=pk)
    form = ConfirmForm(request.POST, subject=subject)
    return form, form.is_valid()


@require_POST
@role_required(ADMIN)
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    form, ok = _confirmed(request, pk)
    if not ok:
        return _detail(request, pk, confirm_form=form, status=400)
    try:
        user = accounts.user_deactivate(actor=request.user, user_id=pk, request=request)
    except accounts.UserChangeRefused as exc:
        form.add_error(None, str(exc))
        return _detail(request, pk, confirm_form=form, status=409)
    if user.pk == request.user.pk:
        return redirect("login")  # their own session ended with the account
    messages.success(request, f"{user.get_username()} is deactivated and can no longer log in.")
    return redirect("users:detail", pk=pk)


@require_POST
@role_required(ADMIN)
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    form, ok = _confirmed(request, pk)
    if not ok:
        return _detail(request, pk, confirm_form=form, status=400)
    user = accounts.user_reactivate(actor=request.user, user_id=pk, request=request)
    messages.success(request, f"{user.get_username()} is active again and can log in.")
    return redirect("users:detail", pk=pk)


@never_cache  # the answer holds a set-password link
@require_POST
@role_required(ADMIN)
def user_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    form, ok = _confirmed(request, pk)
    if not ok:
        return _detail(request, pk, confirm_form=form, status=400)
    try:
        user = accounts.set_password_link_issue(actor=request.user, user_id=pk, request=request)
    except accounts.UserChangeRefused as exc:
        form.add_error(None, str(exc))
        return _detail(request, pk, confirm_form=form, status=409)
    return _link_page(request, user, created=False)


def no_role_response(request: HttpRequest, *, status: int = 403, reason: str = "") -> HttpResponse:
    """What a logged-in user without a role sees, wherever they went: who they are,
    that an admin must give them a role, and which admins to ask."""
    context = {"admins": sel.admins_to_ask(), "reason": reason, "title": "No role yet"}
    return render(request, "console/users/no_role.html", context, status=status)


@require_GET  # any logged-in user: where login sends someone without a role
def no_role(request: HttpRequest) -> HttpResponse:
    if user_role(request.user) is not None:
        return redirect("dashboard")
    return no_role_response(request, status=200)


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """Opened from a one-time link, logged out (Django marks it login_not_required)."""

    token_generator = set_password_tokens
    template_name = "console/users/set_password.html"
    success_url = reverse_lazy("login")
    extra_context = {"title": "Choose your password"}

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        accounts.user_password_chosen(user=form.user, request=self.request)
        messages.success(
            self.request, f"Password set. Log in as {form.user.get_username()} with it."
        )
        return response
