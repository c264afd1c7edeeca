/* Touches a port and an MMIO address nobody claims, then carries on. */
#include "bzhdr.inc"
main:
	mov $0x510, %dx
	mov $0x42, %al
	outb %al, %dx           /* unclaimed write: ignored */
	inb %dx, %al            /* unclaimed read: all ones */
	cmp $0xff, %al
	jne bad
	mov $0xd0000000, %rbx   /* inside the MMIO hole, no device */
	movl (%rbx), %eax
	cmp $0xffffffff, %eax
	jne bad
	movl $1, (%rbx)
	PUTS(ok)
	call poweroff
bad:	PUTS(ko)
	call poweroff
ok:	.asciz "tiny-guest: survived unclaimed accesses\n"
ko:	.asciz "tiny-guest: unclaimed read did not return all ones\n"
