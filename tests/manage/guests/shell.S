/* Answers every line typed on the console with "shell-guest: got LINE";
 * never powers off and ignores the power button. A line starting with '!'
 * crashes it (an empty IDT, then ud2: a triple fault). */
#include "bzhdr.inc"
#include "util.inc"
main:
	PUTS(hello)
next:
	lea buf(%rip), %rdi
	mov %rdi, %rbx
	mov $200, %r12
1:	call getc
	cmp $'\r', %al
	je 2f
	cmp $'\n', %al
	je 2f
	stosb
	dec %r12
	jnz 1b
2:	cmp %rbx, %rdi
	je 1b                   /* an empty line: keep reading */
	movb $0, (%rdi)
	cmpb $'!', (%rbx)
	je crash
	PUTS(got)
	mov %rbx, %rsi
	call puts
	PUTS(nl)
	jmp next
crash:
	PUTS(crashing)
	lidt empty_idt(%rip)
	mov $0xdead5, %rax      /* recognisable in the register dump */
	ud2
hello:	.asciz "shell-guest: ready\n"
crashing: .asciz "shell-guest: crashing\n"
	.p2align 4
empty_idt: .word 0
	.quad 0
got:	.asciz "shell-guest: got "
nl:	.asciz "\n"
	.data
buf:	.fill 256, 1, 0
decbuf:	.fill 23, 1, 0
decbuf_end: .byte 0
