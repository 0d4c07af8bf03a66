"""Runs moto's server with DynamoDB requests one at a time and transactions that stay cheap on big tables.

moto 5.2 backs up a table before a TransactWriteItems by deep-copying all of it, once per item in the
transaction, so a transaction's cost grows with the table's size (seconds on a 100,000-item table) —
unlike DynamoDB, where it does not. Here tables are no longer copied; instead the items a transaction
touches are saved before it runs and put back if it is cancelled, which keeps the all-or-nothing result.
DynamoDB requests are also serialised (moto-serial.py), so a cancelled transaction can never put back an
item another request has changed meanwhile.

Usage: python moto-launcher.py -H 127.0.0.1 -p PORT   (the same arguments as `python -m moto.server`)
"""

import copy
import importlib.util
import os
import sys

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.server import main


class _CopyWithoutTables:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are shared, not copied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _item_key(backend, op_type, op):
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _serialise_dynamodb():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto-serial.py")
    spec = importlib.util.spec_from_file_location("moto_serial", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.patch()


def _patch():
    _serialise_dynamodb()
    dynamodb_models.copy = _CopyWithoutTables()
    backend_class = dynamodb_models.DynamoDBBackend
    original = backend_class.transact_write_items

    def transact_write_items(self, transact_items):
        before = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                key = _item_key(self, op_type, op)
                before.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))
            except Exception:
                # A malformed entry: the original implementation reports it.
                continue
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, item in reversed(before):
                if item is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, item.to_json()["Attributes"])
            raise

    backend_class.transact_write_items = transact_write_items


if __name__ == "__main__":
    _patch()
    main(sys.argv[1:])
