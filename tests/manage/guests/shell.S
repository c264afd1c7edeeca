/* Answers every line typed on the console with "shell-guest: got LINE";
 * never powers off and ignores the power button. */
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
	PUTS(got)
	mov %rbx, %rsi
	call puts
	PUTS(nl)
	jmp next
hello:	.asciz "shell-guest: ready\n"
got:	.asciz "shell-guest: got "
nl:	.asciz "\n"
	.data
buf:	.fill 256, 1, 0
decbuf:	.fill 23, 1, 0
decbuf_end: .byte 0
