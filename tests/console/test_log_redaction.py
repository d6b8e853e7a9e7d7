"""The log filter masks secrets even when botocore's wire logging is turned on."""

from __future__ import annotations

import io
import logging

from console.log_redaction import RedactSecrets, redact
from tests.ecs_seed import boto


def test_botocore_debug_log_of_create_activation_is_masked(sandbox) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecrets())
    botocore_log = logging.getLogger("botocore")
    level = botocore_log.level
    botocore_log.setLevel(logging.DEBUG)
    botocore_log.addHandler(handler)
    try:
        created = boto("ssm", sandbox.url).create_activation(
            IamRole="ecsAnywhereRole", RegistrationLimit=1
        )
    finally:
        botocore_log.removeHandler(handler)
        botocore_log.setLevel(level)
    text = out.getvalue()
    assert "ActivationCode" in text, "botocore logged no response body: nothing was checked"
    assert created["ActivationCode"] not in text
    assert created["ActivationId"] in text  # ids are not secrets


def test_redact_masks_the_shapes_secrets_are_logged_in() -> None:
    body = 'b\'{"ActivationCode":"abcDEF123","ActivationId":"x"}\''
    assert redact(body) == 'b\'{"ActivationCode":"***","ActivationId":"x"}\''
    assert "s3cr3t" not in redact("{'SecretAccessKey': 's3cr3t', 'AccessKeyId': 'AKIA'}")
    assert "tok" not in redact("aws_secret_access_key=tok more")
    assert "zzz9" not in redact('{\\"ActivationCode\\":\\"zzz9\\"}')  # escaped JSON
    xml = "<SecretAccessKey>sek/ret+1</SecretAccessKey><SessionToken>tok==</SessionToken>"
    assert redact(xml) == "<SecretAccessKey>***</SecretAccessKey><SessionToken>***</SessionToken>"
    assert redact("bash x --activation-code QWE123 --region r") == (
        "bash x --activation-code *** --region r"
    )
    assert redact("nothing secret here") == "nothing secret here"


def test_tracebacks_are_masked_too() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecrets())
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("install with --activation-code S3CRETCODE please")
        except ValueError:
            log.exception("install failed")
    finally:
        log.removeHandler(handler)
    assert "install failed" in out.getvalue() and "ValueError" in out.getvalue()
    assert "S3CRETCODE" not in out.getvalue()
