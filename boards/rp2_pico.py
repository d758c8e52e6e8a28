# Board data: Raspberry Pi Pico (RP2040, Cortex-M0+), MicroPython port rp2, board RPI_PICO.
NAME = "rp2_pico"
MCU = "RP2040 (dual Cortex-M0+, 133 MHz, 264 KB SRAM, 2 MB QSPI flash)"
PLATFORM = "rp2"  # sys.platform on the rp2 port
BUILD_IDS = ("RPI_PICO", "RPI_PICO_W")  # sys.implementation._build (MicroPython >= 1.22)

MPY_ARCH = "armv6m"  # Cortex-M0+ is ARMv6-M (ports/rp2 MPY_CROSS_FLAGS = -march=armv6m)
MPY_VERSION = 6  # MicroPython >= 1.19 loads .mpy v6 (docs: reference/mpyfiles)
MPY_SUB_VERSION = 3  # MicroPython >= 1.23 native ABI 6.3 (py/persistentcode.h)
SMALL_INT_BITS = 31  # 32-bit MCU, object representation A: 31-bit small ints
TICKS_PERIOD = 1 << 30  # ticks_us() wraps at 2**30 on 32-bit ports (MICROPY_PY_TIME_TICKS_PERIOD)

UART_ID = 0  # UART0 on its default pins (Pico datasheet pinout: GP0 TX, GP1 RX)
UART_TX_PIN = 0  # GP0
UART_RX_PIN = 1  # GP1
UART_BAUD = 115200  # assumed: HIL rig default
RS485_DE_PIN = 2  # assumed: GP2 wired to DE and /RE of a MAX485-style transceiver
LED_PIN = 25  # GP25 is the on-board LED on the Pico (Pico datasheet); Pico W uses "LED" via CYW43
ZC_PIN = 15  # assumed: GP15 from an opto-isolated zero-crossing detector, rising edge

WDT_TIMEOUT_MS = 8000  # rp2 machine.WDT allows at most 8388 ms (MicroPython docs, machine.WDT)

HEAP_BUDGET_BYTES = 98304  # assumed: ~190 KB GC heap free after boot; we claim about half
FLASH_BUDGET_BYTES = 131072  # assumed: of the ~1.4 MB littlefs filesystem on a 2 MB Pico
STATE_PATH = "/afrr_state.bin"  # littlefs root

# Default unit ratings (config field overrides, FIELDS in firmware/afrr/regmap.py); assumed
UNIT_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000, "cap_kwh": 2000}
