"""The gateway's exception tree.

GatewayError            base of everything the CLI reports as one line and exit code 1
+-- SettingsError       a bad or missing environment variable (message names it)
+-- StartupError        a child process (LiteLLM, the emulator) did not come up
+-- SmokeFailure        the smoke suite found a failing check
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""


class SettingsError(GatewayError):
    """Invalid configuration; the message is one line that names the variable."""


class StartupError(GatewayError):
    """A process the gateway depends on failed to start."""


class SmokeFailure(GatewayError):
    """At least one smoke check failed."""
