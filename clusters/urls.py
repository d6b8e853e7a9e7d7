"""The clusters app's pages (namespace "clusters"): registrations and Docker hosts.

The ECS browsing pages (clusters, instances, services, tasks) are all in deployments/views.py.
"""

from clusters.docker_hosts.urls import urlpatterns as docker_urlpatterns
from clusters.registration.urls import urlpatterns as registration_urlpatterns

app_name = "clusters"

urlpatterns = [*registration_urlpatterns, *docker_urlpatterns]
