"""Runs moto's server with both test patches: DynamoDB requests one at a time (moto-serial.py, so
transactions are atomic under races) and transactions that do not copy the whole table
(moto-launcher.py, so their cost does not grow with the table). For test files that put hundreds of
items in one table and race on them (test/faults/load.test.ts).

Usage: python moto-fast-serial.py -H 127.0.0.1 -p PORT   (the same arguments as `python -m moto.server`)
"""

import importlib.util
import os
import sys

from moto.server import main

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, file_name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(_HERE, file_name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    _load("moto_serial", "moto-serial.py").patch()
    _load("moto_launcher", "moto-launcher.py")._patch()
    main(sys.argv[1:])
