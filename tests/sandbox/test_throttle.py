"""ECS's request throttling (token bucket per account, Region and action category).

https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError


def _burst(call, n):
    ok = throttled = 0
    for _ in range(n):
        try:
            call()
            ok += 1
        except ClientError as exc:
            assert exc.response["Error"] == {
                "Code": "ThrottlingException",
                "Message": "Rate exceeded",
            }
            throttled += 1
    return ok, throttled


def test_off_by_default(aws, sandbox):
    """Without the switch nothing is throttled (the other tests are unaffected)."""
    ecs = aws("ecs")
    assert _burst(ecs.list_clusters, 60) == (60, 0)
    assert sandbox.client.throttle_state()["enabled"] is False


def test_bucket_capacity_refill_and_shared_category(aws, sandbox):
    """Cluster read actions: capacity 50, refill 20/s (here at scale 0.1: 5, 2/s);
    DescribeClusters and ListClusters share the bucket; another category (service read)
    and another Region have their own."""
    ecs, west = aws("ecs"), aws("ecs", "us-west-2")
    ecs.create_cluster(clusterName="default")
    sandbox.client.throttle(enabled=True, scale=0.1)
    started = time.monotonic()
    ok, throttled = _burst(ecs.list_clusters, 6)
    ok2, throttled2 = _burst(lambda: ecs.describe_clusters(clusters=["default"]), 6)
    assert 5 <= ok + ok2 <= 6 + 2 * (time.monotonic() - started)
    assert throttled + throttled2 == 12 - ok - ok2 > 0
    assert _burst(lambda: ecs.list_services(cluster="default"), 5) == (5, 0)
    assert _burst(west.list_clusters, 5) == (5, 0)
    time.sleep(1.0)  # 2 tokens back, and 2 more each second the burst takes
    started = time.monotonic()
    ok, _ = _burst(ecs.list_clusters, 10)
    assert 2 <= ok <= 3 + 2 * (time.monotonic() - started)
    assert sandbox.client.throttle_state()["throttled"] >= 6
