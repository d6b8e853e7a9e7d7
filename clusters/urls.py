from django.urls import path

from . import registration_views as rv
from . import views
from .docker_urls import urlpatterns as docker_urlpatterns

app_name = "clusters"

registration_urls = [
    path("registrations/", rv.registrations, name="registrations"),
    path("registrations/new/", rv.registration_new, name="registration-new"),
    path("registrations/validate/", rv.registration_validate, name="registration-validate"),
    path("registrations/queue/", rv.approval_queue, name="registration-queue"),
    path("registrations/<int:pk>/", rv.registration_detail, name="registration-detail"),
    path("registrations/<int:pk>/approve/", rv.registration_approve, name="registration-approve"),
    path("registrations/<int:pk>/reject/", rv.registration_reject, name="registration-reject"),
    path("registrations/<int:pk>/retry/", rv.registration_retry, name="registration-retry"),
    path("registrations/activations/", rv.activations, name="activations"),
    path(
        "registrations/activations/<int:pk>/reveal/",
        rv.activation_reveal,
        name="activation-reveal",
    ),
    path(
        "registrations/activations/<int:pk>/revoke/",
        rv.activation_revoke,
        name="activation-revoke",
    ),
    path("registrations/waiting-room/", rv.waiting_room, name="waiting-room"),
    path(
        "registrations/hold-policy/<int:pk>/",
        rv.cluster_hold_policy,
        name="cluster-hold-policy",
    ),
    path("registrations/waiting-room/<int:pk>/admit/", rv.admission_admit, name="admission-admit"),
    path(
        "registrations/waiting-room/<int:pk>/reject/",
        rv.admission_reject,
        name="admission-reject",
    ),
    path("registrations/decommissions/", rv.decommissions, name="decommissions"),
    path(
        "registrations/decommissions/new/<int:instance_pk>/",
        rv.decommission_new,
        name="decommission-new",
    ),
    path(
        "registrations/decommissions/<int:pk>/confirm/",
        rv.decommission_confirm,
        name="decommission-confirm",
    ),
    path(
        "registrations/decommissions/<int:pk>/cancel/",
        rv.decommission_cancel,
        name="decommission-cancel",
    ),
]

urlpatterns = [
    path("clusters/", views.cluster_list, name="list"),
    path("instances/", views.instance_list, name="instances"),
    path("sync-runs/<int:pk>/", views.sync_run_status, name="sync-run"),
    *registration_urls,
]

urlpatterns += docker_urlpatterns
