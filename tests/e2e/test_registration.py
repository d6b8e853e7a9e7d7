"""End to end, in Chromium: operator requests -> admin approves -> a real Celery
worker creates the activation -> operator reveals and copies the install command
-> the sandbox registers a machine with it -> the waiting room holds it DRAINING
-> admin admits it -> a worker sets it ACTIVE while the page polls, and a service's
task is placed on it."""

from __future__ import annotations

import re

import pytest

from clusters.registration.tasks import waiting_room_scan_all
from tests.clusters.registration.conftest import make_fleet
from tests.conftest import browser_login
from tests.factories import PASSWORD
from tests.peers import celery_worker_process, wait_until


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_request_approve_reveal_register_admit(
    browser, page, live_server, sandbox, operator, admin_user, artifacts_dir, tmp_path
) -> None:
    fleet = make_fleet(sandbox)
    ecs = fleet.boto("ecs")
    shots = artifacts_dir / "registration"
    shots.mkdir(exist_ok=True)

    # 1. The operator fills the request; inline validation answers while typing.
    browser_login(page, live_server, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/registrations/new/")
    page.select_option("#id_cluster", str(fleet.cluster.pk))
    page.fill("#id_registration_limit", "0")
    page.locator("#err-registration_limit .errorlist").wait_for()
    assert "greater than or equal to 1" in page.inner_text("#err-registration_limit")
    page.fill("#id_registration_limit", "2")
    page.locator("#err-registration_limit .errorlist").wait_for(state="detached")
    page.fill("#id_default_instance_name", "line-pc")
    page.fill("#id_tags", "site=plant-3")
    page.fill("#id_justification", "Two line PCs for the packaging line")
    page.screenshot(path=str(shots / "01-request-form.png"), full_page=True)
    page.click("#registration-form button[type=submit]")
    page.wait_for_url(re.compile(r"/registrations/\d+/$"))
    request_url = page.url
    assert "Waiting for approval" in page.inner_text("#progress")

    # 2. An admin approves from the queue; a real worker creates the activation.
    admin_context = browser.new_context(viewport={"width": 1366, "height": 900})
    admin = admin_context.new_page()
    admin.set_default_timeout(15_000)
    browser_login(admin, live_server, admin_user.username, PASSWORD)
    admin.goto(f"{live_server.url}/registrations/queue/")
    assert operator.username in admin.inner_text("#queue")
    admin.screenshot(path=str(shots / "02-approval-queue.png"), full_page=True)
    with celery_worker_process({}, log_path=tmp_path / "worker.log"):
        admin.click("#queue button.primary")
        admin.wait_for_load_state("networkidle")
        # 3. The operator's page polls until the activation exists.
        page.goto(request_url)
        page.locator("#reveal-button").wait_for(timeout=60_000)
    assert "0 / 2 registrations used" in page.inner_text("#progress")
    page.screenshot(path=str(shots / "03-activation-created.png"), full_page=True)

    # 4. Reveal (a POST) and copy the command.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#reveal-button")
    page.locator("#install-command").wait_for()
    page.click("#copy-command")
    page.wait_for_function("document.querySelector('#copy-command').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.inner_text("#install-command")
    assert copied.startswith(
        'curl --proto "https" -o "/tmp/ecs-anywhere-install.sh" '
        '"https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh" '
        "&& bash /tmp/ecs-anywhere-install.sh --region us-east-1 --cluster edge "
    )
    page.screenshot(path=str(shots / "04-revealed-command.png"), full_page=True)
    found = re.search(r"--activation-id (\S+) --activation-code (\S+)", copied)
    assert found is not None
    activation_id, code = found.groups()

    # A service waits for capacity; nothing may land on the machine before admission.
    ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[{"name": "web", "image": "nginx:1.27", "memory": 128}],
    )
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=1,
        launchType="EXTERNAL",
    )

    # 5. The machine runs the script: the sandbox registers it with the code.
    joined = sandbox.client.register_instance(
        activation_id=activation_id, activation_code=code, cluster="edge", hostname="line-pc-1"
    )
    waiting_room_scan_all()  # what beat runs every 30 s
    sandbox.client.tick(2)
    arn = joined["containerInstanceArn"]
    described = ecs.describe_container_instances(cluster="edge", containerInstances=[arn])
    assert described["containerInstances"][0]["status"] == "DRAINING"
    assert ecs.list_tasks(cluster="edge", containerInstance=arn)["taskArns"] == []

    admin.goto(f"{live_server.url}/registrations/waiting-room/")
    card = admin.locator(".admission").first
    assert joined["instanceId"] in card.inner_text()
    assert "DRAINING" in card.inner_text() and "line-pc-1" in card.inner_text()
    assert operator.username in card.inner_text()  # who requested it
    assert "UNKNOWN ACTIVATION" not in card.inner_text()
    admin.screenshot(path=str(shots / "05-waiting-room-draining.png"), full_page=True)

    # 6. Admit: the request only decides (ADMITTING); a real worker calls ECS and the
    # card follows it by polling until ACTIVE; then the service's task is placed on it.
    with celery_worker_process({}, log_path=tmp_path / "worker-admit.log"):
        card.locator("button.primary").click()
        admin.wait_for_load_state("networkidle")
        admin.locator("#flashes", has_text="admitted: ACTIVE").wait_for(timeout=60_000)
    assert "admitted: ACTIVE" in admin.inner_text("#flashes")
    described = ecs.describe_container_instances(cluster="edge", containerInstances=[arn])
    instance = described["containerInstances"][0]
    assert instance["status"] == "ACTIVE"
    assert {"name": "fleetdeck.approved", "value": "true"} in instance["attributes"]
    sandbox.client.tick(2)
    placed = wait_until(
        lambda: ecs.list_tasks(cluster="edge", containerInstance=arn)["taskArns"], timeout=10
    )
    assert len(placed) == 1
    admin.screenshot(path=str(shots / "06-admitted.png"), full_page=True)
    worker_log = (tmp_path / "worker.log").read_text()
    assert "activation_create" in worker_log and code not in worker_log
    admin_context.close()
