/* MSI routing: GSIs routed to MSI messages (KVM_SET_GSI_ROUTING), each fed
 * by an irqfd, so a device raises an MSI by writing an eventfd from any
 * thread. Also ioeventfds: guest writes to an address signal an eventfd
 * without a vCPU exit to userspace. */
#ifndef VESSEL_MSI_H
#define VESSEL_MSI_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "../tools/base/error.h"

#define MSI_MAX_ROUTES 1024
#define MSI_FIRST_GSI  24       /* 0..23 are the IOAPIC's (and the PICs') pins */

struct msi_vec {
	unsigned gsi;
	int fd;                 /* eventfd bound to gsi as an irqfd; -1 if none */
};

struct msi_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned n;
	unsigned next_gsi;
	/* The whole table as KVM_SET_GSI_ROUTING takes it, allocated once:
	 * a commit (a guest reprogramming an MSI-X entry, on a vCPU thread)
	 * must not allocate. e points at tab's entries. */
	struct kvm_irq_routing *tab;
	struct kvm_irq_routing_entry *e;
};

/* Install the default routes (GSI 0..23 to the PICs and IOAPIC). With
 * vm_fd -1 the router has no VM (the unit tests drive devices so): routes
 * live only in the table and a vector's eventfd is bound to nothing, so a
 * test reads what was fired from it. */
int msi_router_init(struct msi_router *r, int vm_fd, struct error *err);
void msi_router_destroy(struct msi_router *r);
/* A new GSI with an irqfd; routed nowhere until msi_vec_route(). */
int msi_vec_create(struct msi_router *r, struct msi_vec *v, struct error *err);
int msi_vec_route(struct msi_router *r, struct msi_vec *v, uint64_t addr, uint32_t data);
void msi_vec_destroy(struct msi_router *r, struct msi_vec *v);
static inline void msi_vec_fire(const struct msi_vec *v)
{
	uint64_t one = 1;

	if (v->fd >= 0)
		(void)!write(v->fd, &one, sizeof(one));
}

int ioeventfd_set(int vm_fd, uint64_t addr, unsigned len, int fd, bool pio,
		  bool assign, struct error *err);

#endif
