"""The benchmark's transports are listed three times, and the three lists agree.

The package finds its transport modules by itself (``TRANSPORT`` in each); ``wire.TRANSPORTS``
is the protocol's list (command-line choices, the plan's order); images/ipcbench/ipcbench.c has
its own array in the same order. A transport added to one and forgotten in another fails here,
not in a pod.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from podshm.data import data_path
from podshm.ipc.peers import transports
from podshm.ipc.peers.wire import TRANSPORTS


def test_the_package_finds_exactly_the_protocols_transports():
    assert sorted(transports.CLASSES) == sorted(TRANSPORTS)


def test_every_transport_module_is_named_after_its_transport():
    """One module per transport, ``posix-shm`` in ``posix_shm.py``: two modules claiming one
    name (the package would keep only one) or a module without ``TRANSPORT`` fail here."""
    found = {}
    for module in pkgutil.iter_modules(transports.__path__):
        if module.name != "base":
            cls = importlib.import_module(f"{transports.__name__}.{module.name}").TRANSPORT
            found[module.name] = cls
    misnamed = {m: cls.name for m, cls in found.items() if cls.name.replace("-", "_") != m}
    assert misnamed == {}
    assert {cls.name: cls for cls in found.values()} == transports.CLASSES


def test_the_protocols_order_is_the_c_programs():
    """The C peer numbers transports by position; ``wire.TRANSPORTS`` keeps the same order."""
    source = data_path("images", "ipcbench", "ipcbench.c").read_text()
    array = re.search(r"TRANSPORTS\[T_COUNT\] = \{(.*?)\};", source, re.S)
    assert array is not None
    assert tuple(re.findall(r'"([^"]+)"', array.group(1))) == TRANSPORTS
