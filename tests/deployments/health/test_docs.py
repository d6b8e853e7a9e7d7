"""docs/dashboard.md lists every reason code the health model can give."""

from __future__ import annotations

import re

from tests.peers import REPO


def test_every_reason_code_is_documented() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "deployments" / "health").glob("*.py"))
    codes = set(re.findall(r'reason\(\s*"([a-z-]+)"', source))
    codes |= {f"{kind}-unhealthy" for kind in ("services", "instances", "clusters")}
    codes |= set(re.findall(r'"(containers-[a-z]+)"', source))
    assert len(codes) >= 15, codes
    docs = (REPO / "docs" / "dashboard.md").read_text()
    missing = sorted(c for c in codes if f"`{c}`" not in docs)
    assert missing == []
