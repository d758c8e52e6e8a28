# Targets beside the figures: every bench line carries, for each target figure F, the fields
# F_target ("<= 15.0") and F_status ("met" / "missed"), and "status" over all of them.
import operator
import time

_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


def check(row, field, op, target):
    """Put field's target and status beside it in row (a bench line); returns whether met."""
    value = row[field]
    ok = bool(value is not None and _OPS[op](value, target))
    row[field + "_target"] = "%s %s" % (op, target)
    row[field + "_status"] = "met" if ok else "missed"
    row["status"] = "met" if ok and row.get("status", "met") == "met" else "missed"
    return ok


def cpu_time(fn, *args):
    """(CPU seconds of this process spent in fn(*args), its result)."""
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out
