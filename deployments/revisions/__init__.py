"""What changed between two revisions of a service: the diff engine (pure,
``diff.py`` over ``fields.py``), the deployments' "what this deployment changed"
(``selectors.py``) and the compare page (``views.py``)."""

from deployments.revisions.diff import Change, Line, revision_diff, revision_lines
from deployments.revisions.fields import NOT_RECORDED, Revision

__all__ = ["NOT_RECORDED", "Change", "Line", "Revision", "revision_diff", "revision_lines"]
