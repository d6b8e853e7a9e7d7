"""Signals the Docker host services send, so this layer never imports the one above
it (deployments)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after every sync attempt (ok or not); deployments' drift listens to it so
# this layer does not import the one above it.
docker_host_synced = Signal()
# Sent while rendering a host page; receivers return HTML to show there (the
# drift findings panel), so this layer never imports deployments.
docker_host_page = Signal()
