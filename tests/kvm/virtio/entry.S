/* Entry of the virtio guest: the same minimal bzImage header as
 * tests/kvm/guests/bzhdr.inc (one setup sector, boot protocol 2.15, 64-bit
 * entry at 1 MiB + 0x200), written out here because this guest is linked at
 * its run address (guest.ld) and the header length must then be a
 * difference of two labels, not of a label and a number. startup_64 sets a
 * stack in low RAM and calls guest_main(boot_params); guest_main powers off
 * itself, the loop after it is a fallback. */
	.code64
	.text
hdr_start:
	.org 0x1f1
	.byte 1                 /* setup_sects */
	.org 0x1fe
	.word 0xaa55            /* boot_flag */
	.byte 0xeb              /* jump */
	.byte hdr_end - hdr_start - 0x202       /* header length */
	.ascii "HdrS"
	.word 0x020f            /* version 2.15 */
	.org 0x211
	.byte 0x01              /* loadflags: LOADED_HIGH */
	.org 0x22c
	.long 0x7fffffff        /* initrd_addr_max */
	.long 0x200000          /* kernel_alignment */
	.byte 0                 /* relocatable_kernel: load at 1 MiB */
	.byte 0
	.word 0x0001            /* xloadflags: XLF_KERNEL_64 */
	.long 0x7ff             /* cmdline_size */
	.org 0x258
	.quad 0x100000          /* pref_address */
	.long 0x10000           /* init_size */
	.long 0                 /* handover_offset */
	.long 0                 /* kernel_info_offset */
hdr_end:
	.org 0x400              /* end of setup: loaded at 1 MiB from here */
	.org 0x600              /* startup_64, at 1 MiB + 0x200 */
	lea 0x80000, %rsp       /* a stack in low RAM, 16-byte aligned */
	mov %rsi, %rdi          /* boot_params */
	call guest_main
1:	mov $0x604, %dx         /* ACPI S5: SLP_TYP=5, SLP_EN */
	mov $((5 << 10) | (1 << 13)), %ax
	outw %ax, %dx
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
