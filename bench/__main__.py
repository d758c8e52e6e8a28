# `python -m bench`: runs every bench/bench_*.py, prints one JSON object per line, writes --out.
import argparse
import importlib
import json
import pathlib
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__ or
                                 "Run the afrrbox benchmarks and print one JSON object per line.")
    ap.add_argument("--out", default="out/bench.json", help="also write all lines here")
    ap.add_argument("only", nargs="*", help="run only benchmarks whose module name contains this")
    args = ap.parse_args(argv)
    here = pathlib.Path(__file__).parent
    rows = []
    for path in sorted(here.glob("bench_*.py")):
        name = path.stem
        if args.only and not any(o in name for o in args.only):
            continue
        mod = importlib.import_module("bench." + name)
        for row in mod.run():
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
