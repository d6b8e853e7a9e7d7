"""Request names shared by bench/locustfile.py (which sends them) and bench/load.py
(which reports them); a module of its own so bench/load.py never imports locust
(locust monkey-patches the process with gevent)."""

BASELINE = "baseline /healthz"
LOGIN_FORM = "login form"
LOGIN = "login (form POST)"
DASHBOARD_PAGE = "dashboard first load"
TRENDS = "dashboard trends (on load + every 60 s)"
TIMELINE_PAGE = "timeline first load"
DASHBOARD_POLL = "dashboard live poll"
TIMELINE_POLL = "timeline live poll"
USERNAME = "load-viewer-{n}"
