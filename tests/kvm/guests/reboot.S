/* Reboots through the ACPI reset register (0xcf9 <- 6). */
#include "bzhdr.inc"
main:
	PUTS(msg)
	mov $0xcf9, %dx
	mov $6, %al
	outb %al, %dx
	hlt
	jmp main
msg:	.asciz "tiny-guest: rebooting via 0xcf9\n"
