"""Hostile values for property tests: injection strings, huge and odd unicode,
numbers at and past the edges, malformed ARNs and endpoints."""

from __future__ import annotations

from hypothesis import strategies as st

SCRIPT = "<script>alert(1)</script>"
PAYLOADS = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "' OR 1=1 --",
    "'; DROP TABLE clusters_event; --",
    "' UNION SELECT password FROM auth_user --",
    "%' AND 1=1 AND '%'='",
    "\x00",
    "a\x00b",
    "%00",
    "../../../../etc/passwd",
    "{{ settings.SECRET_KEY }}",
    "{% debug %}",
    "${jndi:ldap://127.0.0.1/x}",
    "\u202egnp.exe",
    "\U0001d571\U0001d591\U0001d58a \u2603 \u4e2d\u6587 \u05e2\u05d1\u05e8\u05d9\u05ea",
    "\ud7ff\ue000\ufffd",
    "-1",
    "0",
    "-99999999999999999999999999",
    "99999999999999999999999999999999",
    "1e309",
    "NaN",
    "2026-13-45T99:99",
    "arn:aws:ecs:us-east-1:123456789012:cluster/",
    "arn:::::",
    "arn:aws:ecs:us-east-1:123:service/a/b/c/d/e",
    "arn:aws:ecs:" + "x" * 3000,
    "tcp://",
    "tcp://127.0.0.1:99999",
    "unix://",
    "ssh://@",
    "http://[::1",
]

hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=50),
    st.text(min_size=3000, max_size=6000, alphabet=st.characters(codec="utf-8")),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda a, b: a + SCRIPT + b, st.text(max_size=10), st.text(max_size=10)),
)


def body_of(response: object) -> str:
    """The text of a response, streamed (CSV/JSON exports) or not."""
    if getattr(response, "streaming", False):
        raw = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        raw = response.content  # type: ignore[attr-defined]
    return raw.decode(errors="replace")


def no_raw_script(body: str) -> None:
    assert SCRIPT not in body, "an injected <script> came back unescaped"
    assert "<img src=x onerror" not in body, "an injected tag came back unescaped"
