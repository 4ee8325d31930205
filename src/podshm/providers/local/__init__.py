"""podshm's own cluster: etcd, containerd, the control plane and a kubelet, built from upstream
modules and run on this machine (``podshm cluster up``, the default provider)."""

from podshm.providers.local.provider import LocalProvider

PROVIDER = LocalProvider()
