/* Reboots through the ACPI reset register (RESET_PORT = 0x618 <- 6). */
#include "bzhdr.inc"
main:
	PUTS(msg)
	mov $0x618, %dx
	mov $6, %al
	outb %al, %dx
	hlt
	jmp main
msg:	.asciz "tiny-guest: rebooting via the ACPI reset register\n"
