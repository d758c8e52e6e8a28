# Board peripherals built from a board data module (boards/*.py): the Modbus UART link with its
# RS-485 direction pin, and the status LED.
#
# `machine` is imported only inside these functions, on a board; tests pass a small duck-typed
# object with UART and Pin instead. The link object is hal.board_uart.UartPort, the same duck
# type as hal.unix_pty.PtyPort, so main.serve() runs unchanged on a board.


def _machine(machine):
    if machine is None:
        import machine
    return machine


def uart_kwargs(board):
    """machine.UART keyword arguments for the board: 8N1 at UART_BAUD, pins where the port
    takes them (the stm32 port's UARTs have fixed pins and reject tx=/rx=).

    timeout=0, timeout_char=0: readinto() returns at once with what is buffered. The loop calls
    it only after any() said bytes are waiting and finds frame ends itself (3.5-character
    silence); with the ports' defaults (stm32: timeout=1000, timeout_char a few ms) a read of
    the 64-byte chunk would wait for more bytes (rp2: until the timeout, because its read is
    retried for the rest of the buffer), which stalls replies and merges frames.
    """
    kw = {"baudrate": board.UART_BAUD, "bits": 8, "parity": None, "stop": 1, "timeout": 0,
          "timeout_char": 0}
    if board.PLATFORM != "pyboard" and board.UART_TX_PIN is not None:
        kw["tx"] = board.UART_TX_PIN
        kw["rx"] = board.UART_RX_PIN
    return kw


def open_link(board, machine=None):
    """The Modbus link on board.UART_ID as a UartPort; the RS-485 DE pin (if any) starts low.
    A board with LINK = "stdio" talks over its REPL UART instead (hal/stdio_link.py)."""
    if getattr(board, "LINK", "uart") == "stdio":
        from hal.stdio_link import StdioPort

        return StdioPort()
    from hal.board_uart import UartPort

    if board.UART_ID is None:
        raise ValueError("board %s has no UART: use the Unix-port pty link" % board.NAME)
    m = _machine(machine)
    kw = uart_kwargs(board)
    if "tx" in kw:
        kw["tx"] = m.Pin(kw["tx"])
        kw["rx"] = m.Pin(kw["rx"])
    uart = m.UART(board.UART_ID, **kw)
    de = None
    if board.RS485_DE_PIN is not None:
        de = m.Pin(board.RS485_DE_PIN, m.Pin.OUT, value=0)
    char_us = (10 * 1000000 + board.UART_BAUD - 1) // board.UART_BAUD  # 1 start, 8 data, 1 stop
    return UartPort(uart, de, char_us)


def status_led(board, machine=None):
    """The status LED as an output Pin (off), or None when the board has none."""
    if board.LED_PIN is None:
        return None
    m = _machine(machine)
    return m.Pin(board.LED_PIN, m.Pin.OUT, value=0)
