# Board data: an emulated Arm MPS2-AN385 (Cortex-M3) under qemu-system-arm, MicroPython port qemu.
NAME = "qemu_mps2"
MCU = "Cortex-M3 on QEMU's mps2-an385 machine (emulated, 4 MB SRAM, 140 KB GC heap)"
PLATFORM = "qemu"  # sys.platform on the qemu port (ports/qemu/mpconfigport.h)
BUILD_IDS = ("MPS2_AN385",)  # sys.implementation._build of ports/qemu BOARD=MPS2_AN385

MPY_ARCH = "armv7m"  # Cortex-M3 is ARMv7-M (ports/qemu/boards/MPS2_AN385 MPY_CROSS_FLAGS)
MPY_VERSION = 6  # MicroPython >= 1.19 loads .mpy v6 (docs: reference/mpyfiles)
MPY_SUB_VERSION = 3  # MicroPython >= 1.23 native ABI 6.3 (py/persistentcode.h)
SMALL_INT_BITS = 31  # 32-bit MCU; measured under QEMU: sys.maxsize == 2**31 - 1
TICKS_PERIOD = 1 << 30  # time.ticks_us() wraps at 2**30 on 32-bit ports

# The Modbus link is the REPL UART (UART0, stdin/stdout), as on a USB-CDC board: the port has
# no machine.UART; QEMU puts UART0 on a host pty (-serial pty)
UART_ID = 0  # UART0 of the MPS2 (CMSDK APB UART at 0x40004000, ports/qemu/uart.c)
LINK = "stdio"  # the Modbus link is stdin/stdout (hal/stdio_link.py), not machine.UART
UART_TX_PIN = None  # fixed on the emulated board
UART_RX_PIN = None  # fixed on the emulated board
UART_BAUD = 115200  # nominal only: the emulated UART moves bytes as fast as QEMU feeds them
# The emulated UART has no line timing: bytes of one frame come as fast as QEMU delivers them,
# and a loaded host can stall QEMU between two of them. A request is taken when its length and
# CRC say it is whole (the firmware's fast path); the silence that ends a bad frame is long
STRICT_FRAMING = False  # the emulated UART has no line timing: take a request when its length and
# CRC say it is whole, as the Unix port does (a strict 100 ms silence would add ~90 s to a run)
SILENCE_MS = 100  # assumed: far above a host scheduling stall, small next to the 2 s rig timeout
RS485_DE_PIN = None  # no transceiver
LED_PIN = None  # no LED wired in the port
ZC_PIN = None  # no zero-crossing input; frequency comes over Modbus

WDT_TIMEOUT_MS = 10000  # soft watchdog only (the port has no machine.WDT); assumed as on unix
LOCKSTEP = True  # a rig board: lock-step under the rig (a deployed board steps on its own clock)
OPEN_BENCH = True  # emulated rig board: the open bench profile (no write lock) while no key file
# is on it, as the Unix port without --key-file; locked once the rig writes one (runs with auth);
# never set on a board that drives a unit
HW_WDT = False  # no hardware watchdog: pure lock-step, no own-clock steps when the rig is silent

HEAP_BUDGET_BYTES = 65536  # the smallest board budget (pyboard_v11), so the run is as tight
FLASH_BUDGET_BYTES = 131072  # assumed: as rp2_pico; the firmware is frozen into the image
# littlefs on a block device in RAM (hal/ramfs.py): state lives as long as the QEMU process
RAM_FS_BLOCKS = 24  # assumed: 24 blocks of 256 bytes (6 KiB), room for three state copies
STATE_PATH = "/ram/afrr_state.bin"  # on the RAM littlefs mounted at /ram

# Default unit ratings (config field overrides, FIELDS in firmware/afrr/regmap.py); assumed
UNIT_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000, "cap_kwh": 2000}
