from __future__ import annotations

import os
import stat

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from clusters.core.roles import ADMIN, OPERATOR, VIEWER, has_role, user_role


@pytest.mark.django_db
def test_data_migration_creates_the_three_role_groups() -> None:
    perms = {
        g.name: sorted(g.permissions.values_list("codename", flat=True))
        for g in Group.objects.filter(name__in=[VIEWER, OPERATOR, ADMIN])
    }
    assert perms == {
        VIEWER: ["view_fleet"],
        OPERATOR: ["operate_fleet", "view_fleet"],
        ADMIN: ["administer_fleet", "operate_fleet", "view_fleet"],
    }


@pytest.mark.django_db
def test_roles_form_a_ladder(viewer, operator, admin_user) -> None:
    assert user_role(viewer) == VIEWER
    assert user_role(operator) == OPERATOR
    assert user_role(admin_user) == ADMIN
    assert not has_role(viewer, OPERATOR)
    assert has_role(admin_user, VIEWER)


@pytest.mark.django_db
def test_ensure_admin_creates_once_with_private_password_file(settings, tmp_path, capsys) -> None:
    settings.DATA_DIR = tmp_path
    call_command("ensure_admin")
    out = capsys.readouterr().out
    password_file = tmp_path / "admin-password"
    password = password_file.read_text().strip()
    assert len(password) >= 20 and password in out
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    from django.contrib.auth import authenticate

    user = authenticate(username="admin", password=password)
    assert user is not None and user_role(user) == ADMIN and user.is_superuser

    call_command("ensure_admin")
    assert password_file.read_text().strip() == password
    assert "exists" in capsys.readouterr().out
