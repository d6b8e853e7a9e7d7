"""The request pages say when nobody can approve a request, and what to do.

The rule that makes it matter: nobody approves their own request (four-eyes) unless
FLEETDECK_ALLOW_SELF_APPROVAL, so a request from the only active admin waits for a
second admin that does not exist."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from clusters.models import AwsAccount, Cluster, RegistrationRequest
from clusters.registration import selectors as sel
from clusters.registration.common import self_approval_allowed

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(db) -> Cluster:  # type: ignore[no-untyped-def]
    account = AwsAccount.objects.create(name="prod", regions=["eu-west-1"])
    arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/edge"
    return Cluster.objects.create(account=account, region="eu-west-1", arn=arn, name="edge")


def _pending(requester, cluster: Cluster) -> RegistrationRequest:  # type: ignore[no-untyped-def]
    return RegistrationRequest.objects.create(
        cluster=cluster,
        requested_by=requester,
        registration_limit=2,
        iam_role="ecsAnywhereRole",
        justification="Two line PCs",
    )


def _page(user, url: str) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_only_admin_is_told_before_sending_and_while_pending(admin_user, cluster) -> None:
    assert not self_approval_allowed()
    form = _page(admin_user, reverse("clusters:registration-new"))
    assert 'id="only-admin"' in form
    assert "You are the only admin." in form
    assert "a request you send waits until a second admin approves it" in form
    assert f'href="{reverse("users:list")}">Users page</a>' in form
    assert "FLEETDECK_ALLOW_SELF_APPROVAL=true" in form

    reg = _pending(admin_user, cluster)
    detail = _page(admin_user, reverse("clusters:registration-detail", args=[reg.pk]))
    assert "this request waits until a second admin approves it" in detail
    assert 'id="approve-button"' not in detail
    assert "another admin approves it (four-eyes)" not in detail  # no second admin exists


def test_others_see_who_is_stuck(admin_user, operator, cluster) -> None:
    reg = _pending(admin_user, cluster)
    detail = _page(operator, reverse("clusters:registration-detail", args=[reg.pk]))
    assert "ada-admin, who asked for this, is the only admin" in detail


def test_nothing_to_say_when_someone_can_approve(admin_user, second_admin, operator, cluster):
    assert 'id="only-admin"' not in _page(admin_user, reverse("clusters:registration-new"))
    # An operator's request with one admin: that admin approves it.
    assert 'id="only-admin"' not in _page(operator, reverse("clusters:registration-new"))
    reg = _pending(admin_user, cluster)
    detail = _page(admin_user, reverse("clusters:registration-detail", args=[reg.pk]))
    assert 'id="only-admin"' not in detail
    assert "another admin approves it (four-eyes)" in detail


def test_no_admin_at_all(operator, cluster) -> None:
    form = _page(operator, reverse("clusters:registration-new"))
    assert 'id="no-admin"' in form and "manage.py ensure_admin" in form


def test_with_self_approval_the_only_admin_approves_their_own(settings, admin_user, cluster):
    settings.FLEETDECK_ALLOW_SELF_APPROVAL = True
    reg = _pending(admin_user, cluster)
    detail = _page(admin_user, reverse("clusters:registration-detail", args=[reg.pk]))
    assert "You are the only admin, and self-approval is on" in detail
    assert 'id="approve-button"' in detail
    outlook = sel.approval_outlook(requester=admin_user, viewer=admin_user)
    assert outlook.approvers == ("ada-admin",) and not outlook.stuck
