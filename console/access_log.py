"""gunicorn's access log without a line for every htmx poll (``make run``).

An open console page polls every 2-5 s (live panels, sync progress, the waiting
room), so a plain access log is mostly polls and the lines that matter scroll away.
This logger class leaves out htmx GETs that succeeded; every other request, and a
poll that failed (4xx, 5xx), is still logged. With ``FLEETDECK_LOG_LEVEL=DEBUG`` the
polls are logged too. Used by the Procfile: ``--logger-class console.access_log.QuietPollsLogger``.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger


def is_quiet_poll(environ: dict[str, Any], status: int | None) -> bool:
    """A successful htmx GET (htmx sends ``HX-Request: true`` with every request it makes;
    286 is htmx's "stop polling")."""
    return (
        environ.get("HTTP_HX_REQUEST") == "true"
        and environ.get("REQUEST_METHOD") == "GET"
        and status is not None
        and status < 400
    )


class QuietPollsLogger(Logger):  # type: ignore[misc]
    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        debug = os.environ.get("FLEETDECK_LOG_LEVEL", "INFO").upper() == "DEBUG"
        if not debug and is_quiet_poll(environ, getattr(resp, "status_code", None)):
            return
        super().access(resp, req, environ, request_time)
