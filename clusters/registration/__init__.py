"""ECS Anywhere onboarding services: requests, approval, activations, reveal,
the waiting room and decommissioning.

Every human step writes an audit entry (who, what, when, from which IP) and one
timeline event with source ``registration`` and the actor. The activation code is
decrypted only in ``activation_reveal`` and never passed to a logger, an event, an
audit entry or an exception message.

One module per job (``requests``, ``activations``, ``activation_mirror``,
``waiting_room``, ``admissions``, ``decommission``), sharing ``common``. Callers use
this package's names
(``from clusters import registration``; ``registration.activation_create(...)``),
so where a function lives inside it is not part of its interface.
"""

from clusters.registration.activation_mirror import (
    VANISH_GRACE,
    activation_scopes,
    activations_codeless_replace,
    activations_refresh,
    codeless_grace,
)
from clusters.registration.activations import (
    INSTALL_SCRIPT_URL,
    RevealedActivation,
    activation_create,
    activation_create_failed,
    activation_delete_in_aws,
    activation_reveal,
    activation_revoke,
    can_reveal,
    install_command,
)
from clusters.registration.admissions import (
    instance_admit,
    instance_admit_run,
    instance_decision_failed,
    instance_reject,
    instance_reject_run,
)
from clusters.registration.common import (
    REQUEST_TAG,
    ActivationNotUsable,
    RegistrationError,
    activation_create_waiting,
    self_approval_allowed,
)
from clusters.registration.decommission import (
    decommission_cancel,
    decommission_confirm,
    decommission_failed,
    decommission_request,
    decommission_run,
)
from clusters.registration.requests import (
    EXPIRY_MAX_HOURS,
    EXPIRY_MIN_HOURS,
    LIMIT_MAX,
    LIMIT_MIN,
    RequestSpec,
    default_expiry,
    expiry_choices,
    registration_approve,
    registration_reject,
    registration_request_create,
    registration_retry,
)
from clusters.registration.waiting_room import (
    SSM_LAG,
    cluster_hold_policy_set,
    waiting_room_scan,
)

__all__ = [
    "EXPIRY_MAX_HOURS",
    "EXPIRY_MIN_HOURS",
    "INSTALL_SCRIPT_URL",
    "LIMIT_MAX",
    "LIMIT_MIN",
    "REQUEST_TAG",
    "SSM_LAG",
    "VANISH_GRACE",
    "ActivationNotUsable",
    "RegistrationError",
    "RequestSpec",
    "RevealedActivation",
    "activation_create",
    "activation_create_failed",
    "activation_create_waiting",
    "activation_delete_in_aws",
    "activation_reveal",
    "activation_revoke",
    "activation_scopes",
    "activations_codeless_replace",
    "activations_refresh",
    "can_reveal",
    "cluster_hold_policy_set",
    "codeless_grace",
    "decommission_cancel",
    "decommission_confirm",
    "decommission_failed",
    "decommission_request",
    "decommission_run",
    "default_expiry",
    "expiry_choices",
    "install_command",
    "instance_admit",
    "instance_admit_run",
    "instance_decision_failed",
    "instance_reject",
    "instance_reject_run",
    "registration_approve",
    "registration_reject",
    "registration_request_create",
    "registration_retry",
    "self_approval_allowed",
    "waiting_room_scan",
]
