# Regenerates the tables in README.md from their single sources (config.FIELDS, regmap).
# Usage: python tools/gen_readme.py [--check]   (--check: exit 1 if README.md is stale)
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT))


def config_table():
    from afrr.config import FIELDS

    rows = ["| field | unit | range | default | meaning |", "|---|---|---|---|---|"]
    for name, lo, hi, default, unit, doc in FIELDS:
        rows.append("| `%s` | %s | %d..%d | %d | %s |" % (name, unit, lo, hi, default, doc))
    return "\n".join(rows)


def regmap_table():
    from afrr import regmap

    return regmap.markdown().rstrip("\n")


SECTIONS = {"config-table": config_table, "regmap-table": regmap_table}


def render(text):
    for key, fn in SECTIONS.items():
        begin, end = "<!-- BEGIN %s -->" % key, "<!-- END %s -->" % key
        if begin not in text:
            continue
        head, rest = text.split(begin, 1)
        _old, tail = rest.split(end, 1)
        text = head + begin + "\n" + fn() + "\n" + end + tail
    return text


def main(argv):
    path = ROOT / "README.md"
    text = path.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("README.md tables are stale: run python tools/gen_readme.py")
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
