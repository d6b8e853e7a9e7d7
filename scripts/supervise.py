#!/usr/bin/env python3
"""honcho, with a longer grace period before it kills a process on Ctrl-C.

honcho 2 sends SIGTERM to every process and SIGKILLs whatever is still running 5 s
later (``honcho.manager.KILL_WAIT``, a constant with no option). A Celery worker's
warm shutdown (finish the running task, close the pool, let the broker's poll return)
takes about 5-7 s here, so under plain honcho every Ctrl-C of ``make run`` ended the
worker with SIGKILL. Same command line as ``honcho``.
"""

from __future__ import annotations

import honcho.manager
from honcho.command import main

honcho.manager.KILL_WAIT = 30

if __name__ == "__main__":
    main()
