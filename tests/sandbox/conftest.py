from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def aws(sandbox: Any, aws_env: str) -> Callable[..., Any]:
    """boto3 clients pointed at the sandbox (no retries, so faults are visible)."""

    def make(service: str, region: str = "us-east-1", retries: bool = False) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=aws_env,
            config=Config(retries={"mode": "standard"}) if retries else NO_RETRY,
        )

    return make
