"""Ctrl-C during clean-up: held until the deletions finish, then delivered."""

from __future__ import annotations

import os
import signal

import pytest

from podshm.kube.signals import sigint_deferred


def test_second_ctrl_c_waits_for_cleanup():
    before = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt), sigint_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("cleanup finished")
    assert done == ["cleanup finished"]
    assert signal.getsignal(signal.SIGINT) is before
