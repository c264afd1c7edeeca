/* An ELF guest entered through the PVH note: 32-bit protected mode, paging
 * off, %ebx = hvm_start_info. It checks the start info's magic and prints
 * the command line vessel passed, then powers off. */
	.section .note.pvh, "a", @note
	.p2align 2
	.long 4                 /* n_namesz: "Xen\0" */
	.long 4                 /* n_descsz */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov $0x80000, %esp
	cmpl $0x336ec578, (%ebx)        /* hvm_start_info.magic */
	jne bad
	mov $msg, %esi
	call puts
	mov 24(%ebx), %esi              /* cmdline_paddr (low 32 bits) */
	call puts
	mov $nl, %esi
	call puts
	mov $0x604, %dx                 /* ACPI S5 */
	mov $((5 << 10) | (1 << 13)), %ax
	outw %ax, %dx
	hlt
bad:	mov $ko, %esi
	call puts
	hlt

puts:	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:	ret

	.section .rodata
msg:	.asciz "tiny-guest: pvh entry, cmdline: "
nl:	.asciz "\n"
ko:	.asciz "tiny-guest: bad hvm_start_info magic\n"
