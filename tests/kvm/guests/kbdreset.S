/* Reboots through the i8042 (command 0xfe on port 0x64). */
#include "bzhdr.inc"
main:
	PUTS(msg)
	mov $0x64, %dx
1:	inb %dx, %al            /* wait for the input buffer to be empty */
	test $0x02, %al
	jnz 1b
	mov $0xfe, %al
	outb %al, %dx
	hlt
	jmp main
msg:	.asciz "tiny-guest: rebooting via i8042\n"
