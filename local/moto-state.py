"""moto for the sandbox (`npm start`): its whole state saved to one file and restored at the next start.

The sandbox restores the net state of the emulated account, not its history: every so often and when it
stops, it asks this server to pickle moto's backends (every service that holds anything) to the state
file; the next start loads that file before serving, so a restart takes the same time after ten calls or
ten thousand. The sandbox's recording proxy keeps only the calls made since the last save, and replays
those (local/aws-recorder.ts).

  POST /_sandbox/save?seq=N   pickles the state (with N, the proxy's last call number) to the file,
                              atomically; answers {"seq": N, "bytes": size}
  GET  /_sandbox/info         {"restored": bool, "seq": N, "moto": version, "error": sentence or null}

Stopping: only SIGTERM stops it (the sandbox sends it after the last save). SIGINT and SIGHUP, which a
terminal sends to the whole process group on Ctrl-C or when it closes, are ignored so that the sandbox
can still save first; and it exits by itself when the process that started it is gone.

Usage: SG_WARDEN_MOTO_STATE=FILE python moto-state.py -H 127.0.0.1 -p PORT
"""

import argparse
import collections
import functools
import importlib
import json
import os
import pickle
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

import moto
from moto.core.base_backend import BackendDict
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

FORMAT = 1
_lock = threading.Lock()
_info = {"restored": False, "seq": 0, "moto": moto.__version__, "error": None}


def _new_defaultdict(cls, factory):
    made = collections.defaultdict.__new__(cls)
    collections.defaultdict.__init__(made, factory)
    return made


# Pickles name these helpers by a module name that is the same however this file is run.
_new_defaultdict.__module__ = "sg_warden_moto_state"
sys.modules.setdefault("sg_warden_moto_state", sys.modules[__name__])


def _picklable_factory(factory):
    """A lambda factory (SSM's tag index) as an equivalent picklable one; others as they are."""
    if getattr(factory, "__name__", "") != "<lambda>":
        return factory
    sample = factory()
    if isinstance(sample, collections.defaultdict):
        return functools.partial(collections.defaultdict, _picklable_factory(sample.default_factory))
    return type(sample)


class _Pickler(pickle.Pickler):
    """Pickles moto's state. defaultdicts (and subclasses such as SSM's ParameterDict, whose __init__
    takes other arguments) are rebuilt without calling __init__; lambda factories become named ones."""

    def reducer_override(self, obj):
        if isinstance(obj, collections.defaultdict):
            attributes = dict(vars(obj)) if hasattr(obj, "__dict__") and vars(obj) else None
            # The object first, then its attributes and items: references back to it stay references.
            factory = _picklable_factory(obj.default_factory)
            return (_new_defaultdict, (type(obj), factory), attributes, None, iter(obj.items()))
        return NotImplemented


def _backends_in_use():
    """(module, attribute, BackendDict) for every service backend that holds something."""
    found = []
    in_use = [b for b in BackendDict._instances if len(b) > 0]
    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.") or name.startswith("moto.moto_api") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, BackendDict) and any(value is b for b in in_use):
                found.append((name, attr, value))
    return found


def save(path, seq):
    with _lock:
        backends = _backends_in_use()
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as out:
            _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(
                {"format": FORMAT, "moto": moto.__version__, "seq": seq, "backends": backends}
            )
        os.replace(tmp, path)
        return os.path.getsize(path)


def restore(path):
    if not os.path.exists(path):
        return
    try:
        with open(path, "rb") as source:
            state = pickle.load(source)
    except Exception as error:  # a file cut short, or one written by a moto whose classes changed
        _info["error"] = f"the saved AWS state ({path}) cannot be read ({type(error).__name__}); start with --reset"
        return
    if state.get("format") != FORMAT or state.get("moto") != moto.__version__:
        _info["error"] = (
            f"the saved AWS state was written by moto {state.get('moto')}, this is moto {moto.__version__}; "
            "start with --reset"
        )
        return
    for module_name, attr, loaded in state["backends"]:
        target = getattr(importlib.import_module(module_name), attr)
        dict.clear(target)
        dict.update(target, dict(loaded))
        if not any(target is b for b in BackendDict._instances):
            BackendDict._instances.append(target)
    _info["restored"] = True
    _info["seq"] = state["seq"]


def _answer(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def with_state_routes(app, path):
    def routed(environ, start_response):
        route = environ.get("PATH_INFO", "")
        if route == "/_sandbox/info":
            return _answer(start_response, "200 OK", _info)
        if route == "/_sandbox/save" and environ.get("REQUEST_METHOD") == "POST":
            try:
                seq = int(parse_qs(environ.get("QUERY_STRING", "")).get("seq", ["0"])[0])
                size = save(path, seq)
            except Exception as error:
                return _answer(start_response, "500 Internal Server Error", {"error": repr(error)})
            return _answer(start_response, "200 OK", {"seq": seq, "bytes": size})
        return app(environ, start_response)

    return routed


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    path = os.environ["SG_WARDEN_MOTO_STATE"]
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    restore(path)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        with_state_routes(app, path),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
