# Board data: the MicroPython Unix port, the reference target for tests, HIL and benchmarks.
NAME = "unix"
MCU = "host CPU (x86-64 Linux)"
PLATFORM = "linux"  # sys.platform
BUILD_IDS = ("standard",)  # sys.implementation._build of the Unix port's standard variant

# Code format: the Unix port reports sys.implementation._mpy = 0x0B06 (v6, sub 3, arch x64)
MPY_ARCH = "x64"  # mpy-cross -march; measured: sys.implementation._mpy >> 10 == 2 (x64)
MPY_VERSION = 6  # .mpy version of MicroPython >= 1.19 (docs: reference/mpyfiles)
MPY_SUB_VERSION = 3  # native-code ABI of MicroPython >= 1.23 (py/persistentcode.h)
SMALL_INT_BITS = 63  # 64-bit build; measured: sys.maxsize == 2**63 - 1
TICKS_PERIOD = 1 << 30  # firmware masks ticks_us() to 30 bits on every port (hal/zerocross.py)

# Serial link: a pty given on the command line, not a UART
UART_ID = None  # no UART: firmware/main.py opens the pty path it is given
UART_TX_PIN = None  # no UART pins on the host
UART_RX_PIN = None  # no UART pins on the host
UART_BAUD = 115200  # assumed: the HIL rig's default line rate
RS485_DE_PIN = None  # no transceiver on a pty
LED_PIN = None  # no status LED
ZC_PIN = None  # no zero-crossing input; frequency comes over Modbus

WDT_TIMEOUT_MS = 10000  # soft watchdog only (hal/wdt.SoftWDT); assumed: 2.5 x the 4 s cycle

HEAP_BUDGET_BYTES = 65536  # the smallest board budget (pyboard_v11), so tests run as tight
FLASH_BUDGET_BYTES = 131072  # assumed: same as rp2_pico; nothing is flashed on the host
STATE_PATH = "afrr_state.bin"  # relative to the working directory; main.py may override

# Default unit ratings (config field overrides, FIELDS in firmware/afrr/regmap.py); assumed
UNIT_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000, "cap_kwh": 2000}
