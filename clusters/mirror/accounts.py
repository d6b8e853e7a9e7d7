"""Creating and updating AWS accounts (credentials are never stored)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from clusters.aws.session import clients_forget
from clusters.models import AuthMode, AwsAccount


def account_upsert(
    *,
    name: str,
    regions: list[str],
    endpoint_url: str = "",
    profile: str = "",
    role_arn: str = "",
    external_id: str = "",
    enabled: bool = True,
) -> tuple[AwsAccount, bool]:
    """Create or update the account called ``name``. Returns (account, created)."""
    if not name.strip():
        raise ValidationError("An account needs a name.")
    if not regions:
        raise ValidationError("An account needs at least one region.")
    if profile and role_arn:
        raise ValidationError("Use a profile or a role ARN, not both.")
    if endpoint_url:
        mode = AuthMode.ENDPOINT
    elif role_arn:
        mode = AuthMode.ASSUME_ROLE
    elif profile:
        mode = AuthMode.PROFILE
    else:
        mode = AuthMode.DEFAULT
    account, created = AwsAccount.objects.update_or_create(
        name=name.strip(),
        defaults={
            "regions": list(dict.fromkeys(regions)),
            "auth_mode": mode,
            "endpoint_url": endpoint_url,
            "profile_name": profile,
            "role_arn": role_arn,
            "external_id": external_id,
            "enabled": enabled,
        },
    )
    clients_forget()
    return account, created
