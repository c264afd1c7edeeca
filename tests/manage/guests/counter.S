/* Prints "tick N" every 100 ms, forever; ignores the power button. */
#include "bzhdr.inc"
#include "util.inc"
main:
	PUTS(hello)
	xor %r12, %r12
1:	PUTS(tick)
	mov %r12, %rax
	call putdec
	PUTS(nl)
	inc %r12
	mov $(100 * TICKS_MS), %eax
	call wait
	jmp 1b
hello:	.asciz "counter-guest: counting\n"
tick:	.asciz "tick "
nl:	.asciz "\n"
	.data
decbuf:	.fill 23, 1, 0
decbuf_end: .byte 0
