#include "msi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

static int msi_commit(struct msi_router *r)
{
	r->tab->nr = r->n;
	r->tab->flags = 0;
	if (r->vm_fd < 0)
		return 0;       /* no VM: the table is all there is */
	return ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->tab);
}

static void add_irqchip(struct msi_router *r, unsigned gsi, unsigned chip, unsigned pin)
{
	struct kvm_irq_routing_entry *e = &r->e[r->n++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

int msi_router_init(struct msi_router *r, int vm_fd, struct error *err)
{
	memset(r, 0, sizeof(*r));
	r->tab = calloc(1, sizeof(*r->tab) + MSI_MAX_ROUTES * sizeof(r->tab->entries[0]));
	if (!r->tab)
		return err_set(err, "out of memory");
	r->e = r->tab->entries;
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = vm_fd;
	r->next_gsi = MSI_FIRST_GSI;
	/* KVM's own defaults, which KVM_SET_GSI_ROUTING replaces wholesale. */
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi < 8 && gsi != 2)
			add_irqchip(r, gsi, KVM_IRQCHIP_PIC_MASTER, gsi);
		else if (gsi >= 8 && gsi < 16)
			add_irqchip(r, gsi, KVM_IRQCHIP_PIC_SLAVE, gsi - 8);
		add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	if (msi_commit(r) < 0) {
		err_sys(err, "KVM_SET_GSI_ROUTING");
		msi_router_destroy(r);
		return -1;
	}
	return 0;
}

void msi_router_destroy(struct msi_router *r)
{
	if (!r->tab)
		return;         /* never initialised, or destroyed already */
	pthread_mutex_destroy(&r->lock);
	free(r->tab);
	r->tab = NULL;
	r->e = NULL;
}

int msi_vec_create(struct msi_router *r, struct msi_vec *v, struct error *err)
{
	struct kvm_irqfd irqfd;

	v->fd = -1;
	pthread_mutex_lock(&r->lock);
	if (r->n == MSI_MAX_ROUTES) {
		pthread_mutex_unlock(&r->lock);
		return err_set(err, "out of MSI routes");
	}
	v->gsi = r->next_gsi++;
	/* Routed to nowhere useful until programmed: an all-zero message. */
	struct kvm_irq_routing_entry *e = &r->e[r->n++];
	memset(e, 0, sizeof(*e));
	e->gsi = v->gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	if (msi_commit(r) < 0) {
		r->n--;
		pthread_mutex_unlock(&r->lock);
		return err_sys(err, "KVM_SET_GSI_ROUTING");
	}
	pthread_mutex_unlock(&r->lock);
	v->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->fd < 0)
		return err_sys(err, "eventfd");
	if (r->vm_fd < 0)
		return 0;
	memset(&irqfd, 0, sizeof(irqfd));
	irqfd.fd = v->fd;
	irqfd.gsi = v->gsi;
	if (ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		close(v->fd);
		v->fd = -1;
		return err_sys(err, "KVM_IRQFD");
	}
	return 0;
}

int msi_vec_route(struct msi_router *r, struct msi_vec *v, uint64_t addr, uint32_t data)
{
	int ret = -1;

	errno = 0;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->n; i++) {
		struct kvm_irq_routing_entry *e = &r->e[i];

		if (e->gsi != v->gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		if (e->u.msi.address_lo == (uint32_t)addr &&
		    e->u.msi.address_hi == (uint32_t)(addr >> 32) &&
		    e->u.msi.data == data) {
			ret = 0;
			break;
		}
		struct kvm_irq_routing_entry was = *e;

		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		ret = msi_commit(r);
		if (ret < 0)
			*e = was;       /* what KVM still has; the next update retries */
		break;
	}
	pthread_mutex_unlock(&r->lock);
	if (ret < 0 && !errno)
		errno = ENOENT;         /* no such vector */
	return ret;
}

void msi_vec_destroy(struct msi_router *r, struct msi_vec *v)
{
	struct kvm_irqfd irqfd = { .fd = v->fd, .gsi = v->gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };

	if (v->fd < 0)
		return;
	if (r->vm_fd >= 0)
		ioctl(r->vm_fd, KVM_IRQFD, &irqfd);
	close(v->fd);
	v->fd = -1;
}

int ioeventfd_set(int vm_fd, uint64_t addr, unsigned len, int fd, bool pio,
		  bool assign, struct error *err)
{
	struct kvm_ioeventfd io = {
		.addr = addr, .len = len, .fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_sys(err, "KVM_IOEVENTFD(0x%llx)", (unsigned long long)addr);
	return 0;
}
