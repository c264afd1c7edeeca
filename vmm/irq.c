#include "irq.h"

#include <sys/ioctl.h>
#include <linux/kvm.h>

static void gsi_set(struct irq_line *line, int level)
{
	struct kvm_irq_level irq = { .irq = line->gsi, .level = !!level };

	/* Cannot fail for a valid GSI on a VM with an irqchip. */
	(void)ioctl(line->vm_fd, KVM_IRQ_LINE, &irq);
}

void irq_line_init_gsi(struct irq_line *line, int vm_fd, unsigned gsi)
{
	line->set = gsi_set;
	line->vm_fd = vm_fd;
	line->gsi = gsi;
}
