# Board data: pyboard v1.1 (STM32F405RG, Cortex-M4F), MicroPython port stm32, board PYBV11.
NAME = "pyboard_v11"
MCU = "STM32F405RG (Cortex-M4F, 168 MHz, 192 KB RAM, 1 MB flash)"
PLATFORM = "pyboard"  # sys.platform on the stm32 port
BUILD_IDS = ("PYBV11",)  # sys.implementation._build (MicroPython >= 1.22)

MPY_ARCH = "armv7emsp"  # Cortex-M4 with single-precision FPU (ports/stm32 MPY_CROSS_FLAGS)
MPY_VERSION = 6  # MicroPython >= 1.19 loads .mpy v6 (docs: reference/mpyfiles)
MPY_SUB_VERSION = 3  # MicroPython >= 1.23 native ABI 6.3 (py/persistentcode.h)
SMALL_INT_BITS = 31  # 32-bit MCU: 31-bit small ints
TICKS_PERIOD = 1 << 30  # time.ticks_us() wraps at 2**30 on 32-bit ports

UART_ID = 4  # UART(4) on X1/X2 (pyboard v1.1 pinout)
UART_TX_PIN = "X1"  # PA0
UART_RX_PIN = "X2"  # PA1
UART_BAUD = 115200  # assumed: HIL rig default
RS485_DE_PIN = None  # none fitted: the link is 3.3 V TTL to a USB-serial adapter (assumed)
LED_PIN = "LED_GREEN"  # LED(2), green, PA14 (pyboard v1.1 schematic)
ZC_PIN = "X3"  # assumed: X3 (PA2) from the zero-crossing detector, rising edge

WDT_TIMEOUT_MS = 10000  # IWDG allows up to ~32 s at 32 kHz LSI / 256; 2.5 x the 4 s cycle, assumed

HEAP_BUDGET_BYTES = 65536  # assumed: ~100 KB GC heap on 192 KB RAM; the smallest budget here
FLASH_BUDGET_BYTES = 49152  # assumed: the internal FAT drive holds ~95 KB; leave room for state
STATE_PATH = "/flash/afrr_state.bin"  # internal flash drive (SD card, if any, is /sd)

# Default unit ratings (config field overrides, FIELDS in firmware/afrr/regmap.py); assumed
UNIT_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000, "cap_kwh": 2000}
