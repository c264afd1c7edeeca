#include "memory.h"

#include <string.h>
#include <sys/mman.h>

#include "../boot/layout.h"

static void gmem_layout(struct gmem *m, uint8_t *host, uint64_t ram_size)
{
	uint64_t low = ram_size < MMIO_HOLE_START ? ram_size : MMIO_HOLE_START;

	memset(m->region, 0, sizeof(m->region));
	m->nregions = 0;
	m->ram_size = ram_size;
	m->region[m->nregions++] = (struct gmem_region){ 0, low, host };
	if (ram_size > low)
		m->region[m->nregions++] = (struct gmem_region){
			HIGH_RAM_START, ram_size - low, host + low };
}

void gmem_init_fake(struct gmem *m, void *host, uint64_t ram_size)
{
	gmem_layout(m, host, ram_size);
	m->map = NULL;
	m->map_size = 0;
}

int gmem_alloc(struct gmem *m, uint64_t ram_size, struct error *err)
{
	void *p;

	memset(m, 0, sizeof(*m));
	if (ram_size < MIN_RAM_SIZE)
		return err_set(err, "memory: %llu bytes is too small (minimum %llu)",
			       (unsigned long long)ram_size,
			       (unsigned long long)MIN_RAM_SIZE);
	if (ram_size > MAX_RAM_SIZE || (size_t)ram_size != ram_size)
		return err_set(err, "memory: %llu bytes is too large",
			       (unsigned long long)ram_size);
	p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return err_sys(err, "cannot map %llu bytes of guest memory",
			       (unsigned long long)ram_size);
#ifdef MADV_HUGEPAGE
	madvise(p, ram_size, MADV_HUGEPAGE); /* best effort: THP may be off */
#endif
	gmem_layout(m, p, ram_size);
	m->map = p;
	m->map_size = ram_size;
	return 0;
}

void gmem_free(struct gmem *m)
{
	if (m->map)
		munmap(m->map, m->map_size);
	memset(m, 0, sizeof(*m));
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, size_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->region[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		if (len > r->size - off) /* no overflow: off < size */
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len,
	       struct error *err)
{
	void *dst = gmem_ptr(m, gpa, len);

	if (!dst)
		return err_set(err, "guest range 0x%llx+0x%zx is outside RAM",
			       (unsigned long long)gpa, len);
	memcpy(dst, src, len);
	return 0;
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len,
	      struct error *err)
{
	const void *src = gmem_ptr(m, gpa, len);

	if (!src)
		return err_set(err, "guest range 0x%llx+0x%zx is outside RAM",
			       (unsigned long long)gpa, len);
	memcpy(dst, src, len);
	return 0;
}
