"""Which cluster a run targets and which test image it uses (podshm.target): no fallback to
another cluster, and one line with the fix when nothing fits."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from fakeclock import FakeClock

from podshm import localpaths
from podshm.errors import PodshmError
from podshm.kube.facts import ClusterFacts, NodeFacts
from podshm.podimages import TEST, WORKLOAD
from podshm.settings import resolve
from podshm.target import choose, connect_target, find_image


@pytest.fixture(autouse=True)
def no_kube_environment(tmp_path, monkeypatch):
    """A home without ~/.kube/config, no KUBECONFIG, no PODSHM_*, a private state dir."""
    for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in __import__("os").environ if v.startswith("PODSHM_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(localpaths.STATE_DIR_ENV, str(tmp_path / "state"))


def closed_port_kubeconfig(tmp_path) -> str:
    with socket.socket() as sock:  # a port nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "closed.kubeconfig"
    path.write_text(
        f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: closed, context: {{cluster: c, user: u}}}}]
current-context: closed
"""
    )
    return str(path)


def test_no_kubeconfig_at_all_targets_the_local_cluster():
    target = choose(resolve({}))
    assert target.local
    assert target.context == localpaths.CONTEXT_NAME
    assert "no kubeconfig at ~/.kube/config" in target.why


def test_the_local_cluster_not_running_is_one_line_with_the_fix():
    with pytest.raises(PodshmError) as err:
        connect_target(choose(resolve({})))
    assert "is not running" in err.value.cause
    assert "podshm cluster up" in err.value.fix


@pytest.mark.parametrize("how", ["option", "KUBECONFIG", "home"])
def test_a_configured_kubeconfig_is_never_replaced_by_the_local_cluster(tmp_path, monkeypatch, how):
    path = closed_port_kubeconfig(tmp_path)
    given = {}
    if how == "option":
        given = {"kubeconfig": path}
    elif how == "KUBECONFIG":
        monkeypatch.setenv("KUBECONFIG", path)
    else:
        home = tmp_path / "home" / ".kube"
        home.mkdir(parents=True)
        (home / "config").write_text(Path(path).read_text())
    target = choose(resolve(given))
    assert not target.local
    started = time.monotonic()
    with pytest.raises(PodshmError) as err:
        connect_target(target)
    assert time.monotonic() - started < 5
    assert "cannot reach the Kubernetes API server at https://127.0.0.1:" in err.value.cause
    assert "(context 'closed'): connection refused" in err.value.cause


def test_a_kubeconfig_variable_naming_a_missing_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    target = choose(resolve({}))
    assert not target.local
    with pytest.raises(PodshmError) as err:
        connect_target(target)
    assert err.value.cause == f"no kubeconfig found at {tmp_path / 'missing'}"


def test_unknown_context_is_an_error(tmp_path):
    target = choose(resolve({"kubeconfig": closed_port_kubeconfig(tmp_path), "context": "prod"}))
    with pytest.raises(PodshmError) as err:
        connect_target(target)
    assert "context 'prod' does not exist" in err.value.cause
    assert "available contexts: closed" in err.value.cause


def test_local_switch_wins_over_a_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", closed_port_kubeconfig(tmp_path))
    monkeypatch.setenv("PODSHM_LOCAL", "1")
    target = choose(resolve({}))
    assert target.local and "--local" in target.why


def node(name: str, images=(), annotations=None, ready=True) -> NodeFacts:
    return NodeFacts(
        name,
        ready,
        "v1.37.2",
        "containerd://2.3.7",
        "6.1",
        "Debian",
        "amd64",
        2**33,
        2**33,
        images=tuple(images),
        annotations=annotations or {},
    )


def facts(*nodes: NodeFacts) -> ClusterFacts:
    return ClusterFacts("https://x", "ctx", "v1.37.2", nodes=nodes)


MINE = f"{TEST.repo}:{TEST.tag_prefix()}0123456789ab"
OLD = f"{TEST.repo}:0.0.1-deadbeef-0123456789ab"


def test_a_configured_image_is_used_as_is():
    assert find_image(resolve({"image": "reg/x:1"}), facts()) == ("reg/x:1", "as configured")


def test_the_local_cluster_names_its_image_on_its_node():
    annotated = node("n", annotations={TEST.annotation: OLD})
    assert find_image(resolve({}), facts(annotated))[0] == OLD


def test_this_podshms_image_held_by_every_node_is_found():
    both = facts(node("a", [MINE, "x:1"]), node("b", ["docker.io/" + MINE, OLD]))
    assert find_image(resolve({}), both) == (MINE, "held by the nodes")


def test_an_image_one_node_lacks_or_of_another_podshm_is_not_used():
    for cluster in (facts(node("a", [MINE]), node("b", [OLD])), facts(node("a", [OLD]))):
        with pytest.raises(PodshmError) as err:
            find_image(resolve({}), cluster)
        assert f"tagged {TEST.tag_prefix()}*" in err.value.cause
        assert "podshm image build && podshm image load --into kind" in err.value.fix


def test_a_pinned_node_only_needs_the_image_itself():
    cluster = facts(node("a", [MINE]), node("b", [OLD]))
    assert find_image(resolve({"node": "a"}), cluster)[0] == MINE


WORKLOAD_MINE = f"{WORKLOAD.repo}:{WORKLOAD.tag_prefix()}0123456789ab"


def test_the_workload_image_is_found_the_same_way_by_its_own_name():
    annotated = node("n", annotations={WORKLOAD.annotation: "x/w:1", TEST.annotation: OLD})
    assert find_image(resolve({}), facts(annotated), WORKLOAD) == (
        "x/w:1",
        "imported by podshm's local cluster",
    )
    held = facts(node("a", [MINE, WORKLOAD_MINE]), node("b", [WORKLOAD_MINE]))
    assert find_image(resolve({}), held, WORKLOAD) == (WORKLOAD_MINE, "held by the nodes")
    configured = resolve({"workload_image": "reg/pg:1"})
    assert find_image(configured, facts(), WORKLOAD) == ("reg/pg:1", "as configured")


def test_a_missing_workload_image_says_how_to_get_one():
    with pytest.raises(PodshmError) as err:
        find_image(resolve({}), facts(node("a", [MINE])), WORKLOAD)
    assert "no workload image named" in err.value.cause
    assert f"tagged {WORKLOAD.tag_prefix()}*" in err.value.cause
    assert "podshm cluster up --workload-image" in err.value.fix
    assert "podshm image build --workload" in err.value.fix


class NodesReporting:
    """A cluster whose kubelets report a loaded image only after ``late`` node lists (the
    kubelet refreshes its image list every 30 s): ``facts`` is the first read."""

    def __init__(self, image: str, late: int) -> None:
        self.image, self.late, self.lists = image, late, 0
        self.facts = facts(node("a"))
        self.api = self

    def list_nodes(self) -> list[dict]:
        self.lists += 1
        images = [{"names": [self.image]}] if self.lists >= self.late else []
        ready = {"type": "Ready", "status": "True"}
        return [{"metadata": {"name": "a"}, "status": {"images": images, "conditions": [ready]}}]


def test_an_image_loaded_moments_ago_is_waited_for_not_refused(capsys):
    from podshm.target import check_image_held

    settings = resolve({"image": "podshm.local/podshm-test:dev", "pull_policy": "Never"})
    cluster = NodesReporting("podshm.local/podshm-test:dev", late=3)
    clock = FakeClock()
    check_image_held(settings, cluster, settings.image, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert cluster.lists == 3 and clock.now == 6.0
    assert capsys.readouterr().err.count("no target node reports") == 1


def test_an_image_never_reported_is_refused_once_after_the_wait(capsys):
    from podshm.errors import InputError
    from podshm.objects import IMAGE_REPORT_S
    from podshm.target import check_image_held

    settings = resolve({"image": "podshm.local/not-loaded:1", "pull_policy": "Never"})
    cluster = NodesReporting("something-else:1", late=0)
    clock = FakeClock()
    with pytest.raises(InputError) as err:
        check_image_held(settings, cluster, settings.image, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert clock.now >= IMAGE_REPORT_S
    waited = f"no target node holds it (nodes: a; waited {IMAGE_REPORT_S:.0f} s"
    assert waited in err.value.cause
