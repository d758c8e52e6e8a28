# Hardware/OS edges of the firmware: the only package that touches the serial link or the clock.
