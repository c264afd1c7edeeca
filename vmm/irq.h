/* An interrupt line as a device sees it: raise or lower it, nothing more.
 * The VMM backs it with KVM_IRQ_LINE (legacy GSI) or an irqfd (MSI). */
#ifndef VESSEL_IRQ_H
#define VESSEL_IRQ_H

struct irq_line {
	void (*set)(struct irq_line *line, int level);
	int vm_fd;
	unsigned gsi;
};

/* A legacy GSI line on the in-kernel IOAPIC/PIC. */
void irq_line_init_gsi(struct irq_line *line, int vm_fd, unsigned gsi);

static inline void irq_set(struct irq_line *line, int level)
{
	if (line && line->set)
		line->set(line, level);
}

#endif
