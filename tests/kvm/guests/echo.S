/* Reads a line from the UART (polling LSR.DR) and prints it back. */
#include "bzhdr.inc"
main:
	PUTS(prompt)
	lea buf(%rip), %rdi
	mov %rdi, %rbx
	mov $200, %rcx
1:	mov $0x3fd, %dx
2:	inb %dx, %al
	test $0x01, %al
	jz 2b
	mov $0x3f8, %dx
	inb %dx, %al
	cmp $'\r', %al
	je 3f
	cmp $'\n', %al
	je 3f
	stosb
	loop 1b
3:	movb $'\n', (%rdi)
	movb $0, 1(%rdi)
	PUTS(got)
	mov %rbx, %rsi
	call puts
	call poweroff
prompt:	.asciz "tiny-guest: type a line\n"
got:	.asciz "tiny-guest: got "
	.data
buf:	.fill 256, 1, 0
