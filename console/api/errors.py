from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error is JSON with a human ``message`` beside DRF's details."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        message = str(data["detail"])
    elif isinstance(data, dict) and data:
        # Field errors: say which parameter and why ("offset must be a whole number.").
        parts = [str(v[0] if isinstance(v, list) and v else v) for v in data.values()]
        message = " ".join(parts)
    else:
        message = "The request is not valid."
    response.data = {"message": message, "errors": data}
    return response
