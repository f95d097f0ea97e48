"""Optional packages in tests: skip on a developer machine, fail under CI (imported as `from optional import require`)."""

import importlib
import os

import pytest


def require(module):
    """Import an optional package the test needs: skip on a developer machine, fail under CI.

    A green CI must mean every test ran: CI installs every extra (the README's test command does).
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        message = f"needs {module} ({error})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so this is a failure, not a skip", pytrace=False)
        pytest.skip(message)
