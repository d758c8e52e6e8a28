# afrrbox firmware: pure aFRR control logic, runs unchanged on CPython, the Unix port and boards.
