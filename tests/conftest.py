"""Root-level fixtures for the repository's tests.

The session fixtures ``stack`` (:class:`dcp_devstack.StackEndpoints`), ``kafka_bootstrap`` and
``database_server_url`` live in :mod:`dcp_devstack.pytest_plugin`, which the ``dcp-devstack`` package
registers as a pytest plugin (entry point ``pytest11``) so that tests under ``libs/`` and ``services/`` get
them too. They are lazy: only tests that request them touch the stack; such tests are marked
``@pytest.mark.integration`` by their authors. ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` win; otherwise
the embedded stack is started and, if the session started it, stopped at the end.
"""

import sys

if "dcp_devstack.pytest_plugin" not in sys.modules:  # plugin autoloading disabled: provide them here
    from dcp_devstack.pytest_plugin import database_server_url, kafka_bootstrap, stack

    __all__ = ["database_server_url", "kafka_bootstrap", "stack"]
