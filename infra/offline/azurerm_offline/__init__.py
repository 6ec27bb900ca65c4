"""Offline stand-in for the azurerm provider: the real schema, no Azure calls.

* :mod:`azurerm_offline.schema`  rebuilds ``terraform providers schema -json`` for azurerm from the
  PyPI ``cdktn-provider-azurerm`` wheel (jsii bindings generated from the provider's own schema).
* :mod:`azurerm_offline.provider` serves that schema over the plugin protocol (PyPI ``tf``), so
  ``terraform validate`` / ``terraform test`` with ``mock_provider`` check our code against it.
* :mod:`azurerm_offline.fake_crud` is its fake-Azure mode (``FAKE_AZURE_STATE`` set): real ``plan`` /
  ``apply`` / ``show`` / ``output`` against one fake subscription in a JSON file
  (:mod:`azurerm_offline.fake_azure`, shared with the fake ``az`` of the deploy rehearsal).
* :mod:`azurerm_offline.mirror` fetches and caches the wheel, builds the schema and lays out a
  filesystem mirror plus the CLI config file that points Terraform at it.
"""

from azurerm_offline.mirror import OfflineMirror, prepare_mirror
from azurerm_offline.schema import AZURERM_VERSION, WHEEL_SHA256, WHEEL_VERSION, build_schema

__all__ = [
    "AZURERM_VERSION",
    "WHEEL_SHA256",
    "WHEEL_VERSION",
    "OfflineMirror",
    "build_schema",
    "prepare_mirror",
]
