/* Offsets into the Linux zero page (struct boot_params) and its setup header,
 * from the x86 boot protocol (Documentation/arch/x86/boot.rst and
 * zero-page.rst). Accessed by offset so the layout is visible and checked. */
#ifndef VESSEL_BOOTPARAMS_H
#define VESSEL_BOOTPARAMS_H

#include <stdint.h>
#include <string.h>

#define BP_SIZE              4096
#define BP_ACPI_RSDP_ADDR    0x070  /* u64, protocol 2.14+ */
#define BP_EXT_RAMDISK_IMAGE 0x0c0  /* u32: high 32 bits */
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8  /* u8 */
#define BP_HDR               0x1f1  /* start of the setup header */
#define BP_SETUP_SECTS       0x1f1  /* u8 */
#define BP_VID_MODE          0x1fa  /* u16 */
#define BP_BOOT_FLAG         0x1fe  /* u16 0xaa55 */
#define BP_JUMP              0x200  /* u8 jump; 0x201 = header length - 0x202 */
#define BP_HEADER            0x202  /* u32 "HdrS" */
#define BP_VERSION           0x206  /* u16 */
#define BP_TYPE_OF_LOADER    0x210  /* u8 */
#define BP_LOADFLAGS         0x211  /* u8 */
#define BP_CODE32_START      0x214  /* u32 */
#define BP_RAMDISK_IMAGE     0x218  /* u32 */
#define BP_RAMDISK_SIZE      0x21c  /* u32 */
#define BP_HEAP_END_PTR      0x224  /* u16 */
#define BP_CMD_LINE_PTR      0x228  /* u32 */
#define BP_INITRD_ADDR_MAX   0x22c  /* u32 */
#define BP_KERNEL_ALIGNMENT  0x230  /* u32 */
#define BP_RELOCATABLE       0x234  /* u8 */
#define BP_XLOADFLAGS        0x236  /* u16 */
#define BP_CMDLINE_SIZE      0x238  /* u32 */
#define BP_PREF_ADDRESS      0x258  /* u64 */
#define BP_INIT_SIZE         0x260  /* u32 */
#define BP_E820_TABLE        0x2d0  /* 128 entries of 20 bytes */
#define BP_E820_MAX          128

#define HDR_MAGIC            0x53726448  /* "HdrS" */
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64        0x0001
#define LOADER_TYPE_UNKNOWN  0xff

static inline uint16_t get16(const uint8_t *p, unsigned off)
{
	uint16_t v;
	memcpy(&v, p + off, 2);
	return v;
}
static inline uint32_t get32(const uint8_t *p, unsigned off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}
static inline uint64_t get64(const uint8_t *p, unsigned off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}
static inline void put16(uint8_t *p, unsigned off, uint16_t v) { memcpy(p + off, &v, 2); }
static inline void put32(uint8_t *p, unsigned off, uint32_t v) { memcpy(p + off, &v, 4); }
static inline void put64(uint8_t *p, unsigned off, uint64_t v) { memcpy(p + off, &v, 8); }

#endif
