/* Prints a line on the UART and powers off: vessel must print it and exit 0. */
#include "bzhdr.inc"
main:
	PUTS(msg)
	call poweroff
msg:	.asciz "tiny-guest: hello from serial\n"
