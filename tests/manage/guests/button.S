/* Shuts down "gracefully" on the ACPI power button: enables PWRBTN_EN in
 * PM1_EN, polls PWRBTN_STS in PM1_STS, then prints a marker, clears the
 * status and powers off. Says "alive N" every 200 ms meanwhile. */
#include "bzhdr.inc"
#include "util.inc"
main:
	mov $PM1_EN, %dx
	mov $PWRBTN, %ax
	outw %ax, %dx
	PUTS(armed)
	xor %r12, %r12
1:	mov $PM1_STS, %dx
	inw %dx, %ax
	test $PWRBTN, %ax
	jnz 2f
	mov $(200 * TICKS_MS), %eax
	call wait
	PUTS(alive)
	mov %r12, %rax
	call putdec
	PUTS(nl)
	inc %r12
	jmp 1b
2:	mov $PM1_STS, %dx
	mov $PWRBTN, %ax
	outw %ax, %dx           /* write 1 to clear */
	PUTS(pressed)
	call poweroff
armed:	.asciz "button-guest: power button armed\n"
alive:	.asciz "button-guest: alive "
pressed: .asciz "button-guest: power button pressed, shutting down\n"
nl:	.asciz "\n"
	.data
decbuf:	.fill 23, 1, 0
decbuf_end: .byte 0
