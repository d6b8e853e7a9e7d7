"""Registration pages, included in clusters/urls.py (namespace "clusters")."""

from django.urls import path

from clusters.registration import views

urlpatterns = [
    path("registrations/", views.registrations, name="registrations"),
    path("registrations/new/", views.registration_new, name="registration-new"),
    path("registrations/validate/", views.registration_validate, name="registration-validate"),
    path("registrations/queue/", views.approval_queue, name="registration-queue"),
    path("registrations/<int:pk>/", views.registration_detail, name="registration-detail"),
    path(
        "registrations/<int:pk>/approve/", views.registration_approve, name="registration-approve"
    ),
    path("registrations/<int:pk>/reject/", views.registration_reject, name="registration-reject"),
    path("registrations/<int:pk>/retry/", views.registration_retry, name="registration-retry"),
    path("registrations/activations/", views.activations, name="activations"),
    path(
        "registrations/activations/<int:pk>/reveal/",
        views.activation_reveal,
        name="activation-reveal",
    ),
    path(
        "registrations/activations/<int:pk>/revoke/",
        views.activation_revoke,
        name="activation-revoke",
    ),
    path("registrations/waiting-room/", views.waiting_room, name="waiting-room"),
    path(
        "registrations/hold-policy/<int:pk>/",
        views.cluster_hold_policy,
        name="cluster-hold-policy",
    ),
    path(
        "registrations/waiting-room/<int:pk>/admit/", views.admission_admit, name="admission-admit"
    ),
    path(
        "registrations/waiting-room/<int:pk>/reject/",
        views.admission_reject,
        name="admission-reject",
    ),
    path("registrations/decommissions/", views.decommissions, name="decommissions"),
    path(
        "registrations/decommissions/new/<int:instance_pk>/",
        views.decommission_new,
        name="decommission-new",
    ),
    path(
        "registrations/decommissions/<int:pk>/confirm/",
        views.decommission_confirm,
        name="decommission-confirm",
    ),
    path(
        "registrations/decommissions/<int:pk>/cancel/",
        views.decommission_cancel,
        name="decommission-cancel",
    ),
]
