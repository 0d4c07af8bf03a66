"""Runs moto's server with DynamoDB requests handled one at a time.

moto (5.2) runs requests on threads without a lock around DynamoDB: a TransactWriteItems checks its
conditions, then writes, and when a condition fails it puts back a copy of the table taken before it
began. Two requests racing on one item (a Revoke click and the sweeper claiming the same violation)
can then both pass their condition, or the cancelled one can undo the one that succeeded. Real
DynamoDB is atomic per item, and sg-warden's race tests depend on exactly that; serialising the
emulator's DynamoDB requests restores it. Other services still run concurrently.

Usage: python moto-serial.py -H 127.0.0.1 -p PORT   (the same arguments as `python -m moto.server`)
Other launchers can call `patch()` and then run moto's main themselves.
"""

import importlib.util
import os
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.RLock()


def patch():
    """Makes every DynamoDB request run alone (idempotent)."""
    if getattr(DynamoHandler.call_action, "_serialised", False):
        return
    original = DynamoHandler.call_action

    def call_action(self):
        with _lock:
            return original(self)

    call_action._serialised = True
    DynamoHandler.call_action = call_action


def _patch_prefix_list_associations():
    """moto lacks GetManagedPrefixListAssociations: moto-prefix-list-associations.py adds it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto-prefix-list-associations.py")
    spec = importlib.util.spec_from_file_location("moto_prefix_list_associations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.patch()


if __name__ == "__main__":
    patch()
    _patch_prefix_list_associations()
    main(sys.argv[1:])
