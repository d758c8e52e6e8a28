# The Unix port's command line (firmware/app.py main() on a host): parsed without argparse,
# which the port does not have; every error is one line. Shipped only where the firmware runs on
# a host (tools/build_firmware.py), so a board's flash and heap carry none of it.
USAGE = ("usage: micropython firmware/main.py --device PATH [--unit N] [--realtime] "
         "[--silence-ms N] [--baud N] [--state-file PATH] [--board NAME] [--key-file PATH] "
         "[--strict-framing]")


class UsageError(Exception):
    pass


def parse_args(argv):
    opts = {"device": None, "unit": 1, "realtime": False, "silence_ms": 4, "baud": 0,
            "state_file": None, "board": None, "strict": False}
    ints = {"--unit": ("unit", 1, 247), "--silence-ms": ("silence_ms", 1, 1000),
            "--baud": ("baud", 1200, 4000000)}
    strs = {"--device": "device", "--state-file": "state_file", "--board": "board",
            "--key-file": "key_file"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            raise UsageError("")
        if a == "--realtime" or a == "--strict-framing":
            opts["realtime" if a == "--realtime" else "strict"] = True
            i += 1
            continue
        if a not in ints and a not in strs:
            raise UsageError("unknown argument %r" % a)
        if i + 1 >= len(argv):
            raise UsageError("%s needs a value" % a)
        v = argv[i + 1]
        if a in strs:
            opts[strs[a]] = v
        else:
            key, lo, hi = ints[a]
            try:
                n = int(v)
            except ValueError:
                raise UsageError("%s must be an integer, not %r" % (a, v))
            if n < lo or n > hi:
                raise UsageError("%s must be in %d..%d" % (a, lo, hi))
            opts[key] = n
        i += 2
    if opts["device"] is None:
        raise UsageError("--device is required")
    return opts
