# `python -m host <subcommand>`: one module per subcommand, registered in SUBCOMMANDS below.
#
# A subcommand module (host/cli_<name>.py) defines HELP (one line), configure(parser) to add its
# arguments, and main(args) -> exit status. Errors a user can fix (bad file, bad value) print one
# line "error: file:line: field: what" and exit 2; set AFRRBOX_DEBUG=1 to see a traceback.
import argparse
import importlib
import os
import sys

SUBCOMMANDS = {
    "simulate": "host.cli_simulate",   # grid emulator run
    "market": "host.cli_market",       # balancing market run
    "capacity": "host.cli_capacity",   # TRM / frequency-stability limit
    "acceptance": "host.cli_acceptance",   # German aFRR acceptance model on a BSP's CSV
}


def _load():
    mods = {}
    for name, modname in SUBCOMMANDS.items():
        try:
            mods[name] = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:   # the module exists but something it imports is missing
                raise
    return mods


def main(argv=None):
    mods = _load()
    ap = argparse.ArgumentParser(prog="python -m host",
                                 description="afrrbox host tools: grid emulator, market, capacity, "
                                             "acceptance")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, mod in mods.items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP,
                           epilog=getattr(mod, "EPILOG", None))
        mod.configure(p)
        p.set_defaults(_main=mod.main)
    args = ap.parse_args(argv)
    try:
        return args._main(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as e:
        if os.environ.get("AFRRBOX_DEBUG"):
            raise
        if isinstance(e, OSError):
            msg = "%s: %s" % (e.filename or "", e.strerror)
        elif isinstance(e, KeyError):
            msg = str(e.args[0]) if e.args else "KeyError"
        else:
            msg = str(e)
        print("error: %s" % (msg.splitlines()[0] if msg else type(e).__name__), file=sys.stderr)
        return 2
    except Exception as e:   # never a traceback for a user; one line, and how to see more
        if os.environ.get("AFRRBOX_DEBUG"):
            raise
        print("internal error: %s: %s (AFRRBOX_DEBUG=1 for a traceback)"
              % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
