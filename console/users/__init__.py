"""Users and roles in the console: the admin-only users pages (list, create with a
one-time set-password link, change a role, deactivate/reactivate; never delete),
the page of a logged-in user who has no role yet, and the set-password page.

- ``accounts``: the services (create, role change, deactivate/reactivate, the
  last-admin guard, audit)
- ``links``: one-time set-password links (Django's reset tokens, no mail)
- ``selectors``: the users list, a user's page, the admins to ask
- ``forms``, ``views``, ``urls``: the pages

``no_role_response`` is re-exported for the 403 handler (``console.errors``), which
shows it to a logged-in user without a role instead of a bare "not allowed".
"""

from console.users.views import no_role_response

__all__ = ["no_role_response"]
