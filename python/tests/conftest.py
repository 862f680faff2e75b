# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the binding's tests.  python/test-python (make check) runs
them against a real ipcd in a private IPC namespace, with IPCD_RUNTIME_DIR,
IPCD and IPCDCTL set."""
import itertools
import os

import pytest

import ipcd

_counter = itertools.count()


def pytest_configure(config):
    if not os.environ.get("IPCD_RUNTIME_DIR"):
        raise pytest.UsageError(
            "IPCD_RUNTIME_DIR is not set: run the suite with `make check "
            "TESTS=python/test-python`, which starts an ipcd for it")


@pytest.fixture
def rundir():
    return os.environ["IPCD_RUNTIME_DIR"]


@pytest.fixture
def uname(request):
    """A client name unique to this test."""
    def make(tag="c"):
        return "py.%s.%d" % (tag, next(_counter))
    return make


@pytest.fixture
def pair(uname):
    """Two connected clients, a and b, closed after the test."""
    a = ipcd.Client(uname("a"))
    b = ipcd.Client(uname("b"))
    yield a, b
    a.close()
    b.close()
