"""A run's heartbeat: the Lease it writes, how a reader ages it (on the API server's clock),
and the thread that renews it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fakenamespaceapi import FakeApi
from kubernetes.client.exceptions import ApiException

from podshm.kube.heartbeat import (
    LEASE_NAME,
    MISSED_PERIODS,
    Heartbeat,
    beat_of,
    last_renewal,
    lease_manifest,
    micro_time,
    parse_time,
    read_beat,
)

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def test_the_lease_says_how_long_a_renewal_counts():
    lease = lease_manifest(LEASE_NAME, "abc123/main host:42", 10, NOW)
    spec = lease["spec"]
    assert spec["leaseDurationSeconds"] == 10 * MISSED_PERIODS == 30
    assert spec["renewTime"] == spec["acquireTime"] == "2026-12-01T12:00:00.000000Z"
    assert parse_time(micro_time(NOW)) == NOW


def test_the_server_stamped_renewal_counts_not_the_writers_clock():
    """A writer whose clock is an hour behind renews all the same: the API server stamps the
    managed-fields entry that owns renewTime, and the reader compares with the server's Date."""
    lease = lease_manifest(LEASE_NAME, "x", 10, NOW - timedelta(hours=1))
    lease["metadata"]["managedFields"] = [
        {"fieldsV1": {"f:spec": {"f:holderIdentity": {}}}, "time": "2026-12-01T11:00:00Z"},
        {"fieldsV1": {"f:spec": {"f:renewTime": {}}}, "time": "2026-12-01T11:59:55Z"},
    ]
    assert last_renewal(lease) == NOW - timedelta(seconds=5)
    beat = beat_of(lease, NOW)
    assert (beat.age_s, beat.limit_s, beat.stale) == (5.0, 30.0, False)
    assert beat_of(lease, NOW + timedelta(seconds=26)).stale
    del lease["metadata"]["managedFields"]  # a server without managed fields: renewTime
    assert last_renewal(lease) == NOW - timedelta(hours=1)


def test_a_missing_lease_and_one_that_cannot_be_read_differ():
    api = FakeApi()
    assert read_beat(api, f"ns/{LEASE_NAME}").missing
    assert read_beat(api, "not-a-ref") is None

    class Forbidden(FakeApi):
        def read_lease(self, namespace, name):
            raise ApiException(status=403, reason="Forbidden")

    assert read_beat(Forbidden(), f"ns/{LEASE_NAME}") is None


def test_the_thread_renews_until_stopped_and_runs_its_companion():
    api = FakeApi()
    also: list[int] = []
    heart = Heartbeat(api, "abc123/main", period_s=0.02, also=lambda: also.append(1))
    assert heart.create_lease("ns") is None and heart.ref == f"ns/{LEASE_NAME}"
    heart.start()
    deadline = time.monotonic() + 5
    while len(api.renewals) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    heart.stop()
    count = len(api.renewals)
    assert count >= 3 and len(also) >= 3
    namespace, name, patch = api.renewals[0]
    assert (namespace, name) == ("ns", LEASE_NAME) and parse_time(patch["spec"]["renewTime"])
    time.sleep(0.1)
    assert len(api.renewals) == count  # stopped means stopped


def test_a_failed_renewal_is_counted_and_the_next_beat_tries_again():
    class Flaky(FakeApi):
        def patch_lease(self, namespace, name, patch):
            raise ApiException(status=500, reason="etcd leader changed")

    heart = Heartbeat(Flaky(), "abc123/main", period_s=3600)
    heart.create_lease("ns")
    heart.beat()
    heart.beat()
    assert heart.failures == 2


def test_a_lease_refused_says_why():
    api = FakeApi()
    api.lease_error = ApiException(status=403, reason="Forbidden")
    heart = Heartbeat(api, "abc123/main")
    assert heart.create_lease("ns") == "HTTP 403: Forbidden"
    assert heart.ref is None
