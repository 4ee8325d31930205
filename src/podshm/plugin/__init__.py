"""pytest plugin for podshm (registered through the ``pytest11`` entry point).

Thin on purpose: options, hooks and fixtures live in their own modules and are re-exported
here, which is all pytest needs to find them.

Fixtures:
  podshm_settings            session  resolved options (Settings)
  podshm_cluster             session  connected Cluster (api, facts); connects once
  podshm_namespace           function this test's namespace (Pod Security restricted)
  podshm_namespace_factory   function more namespaces: factory(pod_security="baseline")
  podshm_pod                 function factory(manifest, **params) -> running PodHandle
  podshm_target_node         function the node of this test (--podshm-nodes), else None
  podshm_runtime_class       function the RuntimeClass of this test (--podshm-runtime-class)
  podshm_expect              function expected /dev/shm: .devshm(scenario, pod)
  podshm_record              function junit properties and /dev/shm summary rows
"""

from podshm.plugin.fixtures.expectations import podshm_expect
from podshm.plugin.fixtures.namespaces import podshm_namespace, podshm_namespace_factory
from podshm.plugin.fixtures.pods import podshm_pod, podshm_runtime_class, podshm_target_node
from podshm.plugin.fixtures.record import podshm_record
from podshm.plugin.fixtures.session import podshm_cluster, podshm_settings
from podshm.plugin.hooks import pytest_configure
from podshm.plugin.options import pytest_addoption

__all__ = [
    "podshm_cluster",
    "podshm_expect",
    "podshm_namespace",
    "podshm_namespace_factory",
    "podshm_pod",
    "podshm_record",
    "podshm_runtime_class",
    "podshm_settings",
    "podshm_target_node",
    "pytest_addoption",
    "pytest_configure",
]
