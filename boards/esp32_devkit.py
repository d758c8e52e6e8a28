# Board data: ESP32-DevKitC (ESP32-WROOM-32, Xtensa LX6), MicroPython port esp32, ESP32_GENERIC.
NAME = "esp32_devkit"
MCU = "ESP32 (dual Xtensa LX6, 240 MHz, 520 KB SRAM, 4 MB flash)"
PLATFORM = "esp32"  # sys.platform on the esp32 port
BUILD_IDS = ("ESP32_GENERIC",)  # sys.implementation._build (MicroPython >= 1.22)

MPY_ARCH = "xtensawin"  # ESP32 uses the windowed Xtensa ABI (ports/esp32 MPY_CROSS_FLAGS)
MPY_VERSION = 6  # MicroPython >= 1.19 loads .mpy v6 (docs: reference/mpyfiles)
MPY_SUB_VERSION = 3  # MicroPython >= 1.23 native ABI 6.3 (py/persistentcode.h)
SMALL_INT_BITS = 31  # 32-bit MCU: 31-bit small ints
TICKS_PERIOD = 1 << 30  # time.ticks_us() wraps at 2**30 on 32-bit ports

UART_ID = 2  # UART0 carries the REPL; UART1's default pins are the SPI flash pins
UART_TX_PIN = 17  # UART2 default TX on ESP32 (ESP-IDF pin mapping)
UART_RX_PIN = 16  # UART2 default RX
UART_BAUD = 115200  # assumed: HIL rig default
RS485_DE_PIN = 4  # assumed: GPIO4 wired to DE and /RE of the transceiver
LED_PIN = 2  # assumed: GPIO2 blue LED of common DevKit V1 boards (DevKitC has only a power LED)
ZC_PIN = 34  # assumed: GPIO34 (input-only, no pull) from the zero-crossing detector

WDT_TIMEOUT_MS = 10000  # assumed: 2.5 x the 4 s cycle (esp32 machine.WDT takes any timeout)

HEAP_BUDGET_BYTES = 98304  # assumed: ~110 KB GC heap on a board without PSRAM
FLASH_BUDGET_BYTES = 131072  # assumed: of the ~2 MB littlefs filesystem on a 4 MB module
STATE_PATH = "/afrr_state.bin"  # littlefs root

# Default unit ratings (config field overrides, FIELDS in firmware/afrr/regmap.py); assumed
UNIT_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000, "cap_kwh": 2000}
