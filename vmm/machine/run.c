/* The life of a VM: boots and reboots (each boot a fresh board), the
 * console and signals that live across them, and control from another
 * thread (vm_control: stop, power button, pause, snapshot). */
#include "machine.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "migration_send.h"
#include "../../devices/block/cbt.h"
#include "../../devices/block/cbw.h"
#include "../../tools/base/clock.h"
#include "snapshot.h"

/* What lives across reboots: the loop, the console, signal handling, and
 * the VM currently running (to stop it on a signal). */
struct runner {
	struct loop loop;
	struct console console;
	int sigfd;
	pthread_mutex_t lock;
	struct vm *vm;
	int stop_signal;        /* a signal asked us to stop */
	bool quit;              /* the console escape asked us to stop */
	bool ctl_stop;          /* vm_control_stop() asked us to stop */
	bool paused;            /* vm_control_pause(): applies to each boot */
	bool started;           /* vm_control's on_started was called */
	struct vm_control *ctl; /* optional */
	struct vm_snapshot *restore;    /* the first boot continues it */
	const struct vm_incoming *incoming;     /* or a migration does */
	bool migrating;         /* vm_control_migrate() uses vm: keep it */
	bool backing_up;        /* vm_control_backup() uses vm: keep it */
	pthread_cond_t cond;    /* signalled when either clears */
};

static void runner_stop(struct runner *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->vm)
		vm_request(r->vm, VM_EVENT_STOP);
	pthread_mutex_unlock(&r->lock);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *opaque)
{
	struct runner *r = opaque;
	struct signalfd_siginfo si;

	(void)loop;
	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	pthread_mutex_lock(&r->lock);
	if (si.ssi_signo == SIGUSR2) {
		/* a diagnosis, not a stop: each vCPU's state on stderr */
		if (r->vm)
			vm_dump_vcpus(r->vm);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (!r->stop_signal)
		r->stop_signal = si.ssi_signo;
	pthread_mutex_unlock(&r->lock);
	runner_stop(r);
}

static void on_quit(void *opaque)
{
	struct runner *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->quit = true;
	pthread_mutex_unlock(&r->lock);
	runner_stop(r);
}

static bool runner_stopped(struct runner *r)
{
	bool s;

	pthread_mutex_lock(&r->lock);
	s = r->stop_signal || r->quit || r->ctl_stop;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void print_stats(const struct vm *vm)
{
	fprintf(stderr, "vessel: exits %llu pio %llu mmio %llu "
		"unclaimed_pio %llu unclaimed_mmio %llu\n",
		(unsigned long long)vm->stats.exits,
		(unsigned long long)vm->stats.pio,
		(unsigned long long)vm->stats.mmio,
		(unsigned long long)vm->pio.unclaimed,
		(unsigned long long)vm->mmio.unclaimed);
}

/* One boot of the machine. Returns the event that ended it, or -1. */
static int run_once(struct runner *r, const struct machine_spec *cfg,
		    const struct vm_run_opts *opts, struct error *err)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	enum vm_event ev;

	if (!vm)
		return err_set(err, "out of memory");
	if (vm_create(vm, cfg, r->restore, r->incoming, &r->loop, &r->console,
		      err) < 0) {
		vm_destroy(vm);
		free(vm);
		return -1;
	}
	pthread_mutex_lock(&r->lock);
	r->vm = vm;
	vm->paused = r->paused;
	pthread_mutex_unlock(&r->lock);
	if (runner_stopped(r))
		vm_request(vm, VM_EVENT_STOP);
	for (unsigned i = 0; i < vm->nvcpus && !vm_event_pending(vm); i++) {
		if (vcpu_start(&vm->vcpu[i], &vm->event_err) < 0)
			vm_request(vm, VM_EVENT_ERROR);
	}
	if (r->ctl && !r->started && !vm_event_pending(vm)) {
		r->started = true;
		if (r->ctl->on_started)
			r->ctl->on_started(r->ctl->opaque);
	}

	pthread_mutex_lock(&vm->lock);
	while (vm->event == VM_EVENT_NONE)
		pthread_cond_wait(&vm->cond, &vm->lock);
	ev = vm->event;
	pthread_mutex_unlock(&vm->lock);

	pthread_mutex_lock(&r->lock);
	r->vm = NULL;
	for (size_t i = 0; r->backing_up && i < vm->devices.ndisks; i++)
		blk_cbw_cancel(&vm->disk_cbw[i], ev == VM_EVENT_REBOOT ?
			       "the guest rebooted during the backup" :
			       ev == VM_EVENT_CRASH ?
			       "the guest crashed during the backup" :
			       "the guest stopped during the backup");
	while (r->migrating || r->backing_up)	/* they see it and give up */
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpu[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpu[i]);
	if (opts->stats)
		print_stats(vm);
	if (ev == VM_EVENT_ERROR)
		*err = vm->event_err;
	vm_destroy(vm);
	free(vm);
	r->restore = NULL;      /* a reboot boots the kernel */
	r->incoming = NULL;
	return ev == VM_EVENT_ERROR ? -1 : (int)ev;
}

static int runner_init(struct runner *r, sigset_t *old, const struct vm_run_opts *opts,
		       struct error *err)
{
	sigset_t set;

	memset(r, 0, sizeof(*r));
	r->sigfd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);       /* vm_dump_vcpus */
	sigaddset(&set, SIGUSR1);       /* only vCPU threads take the kick */
	pthread_sigmask(SIG_BLOCK, &set, old);
	signal(SIGPIPE, SIG_IGN);
	vcpu_signals_init();
	sigdelset(&set, SIGUSR1);
	if (loop_init(&r->loop, err) < 0)
		return -1;
	r->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sigfd < 0)
		return err_sys(err, "signalfd");
	if (loop_add(&r->loop, r->sigfd, EPOLLIN, on_signal, r, err) < 0)
		return -1;
	if (console_open(&r->console, &r->loop, opts->in_fd, opts->out_fd, err) < 0)
		return -1;
	r->console.on_quit = on_quit;
	r->console.quit_opaque = r;
	return loop_start(&r->loop, err);
}

static void runner_fini(struct runner *r, const sigset_t *old)
{
	loop_stop(&r->loop);
	console_close(&r->console);
	if (r->sigfd >= 0)
		close(r->sigfd);
	loop_destroy(&r->loop);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void vm_control_init(struct vm_control *c, void (*on_started)(void *opaque),
		     void *opaque)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->on_started = on_started;
	c->opaque = opaque;
}

void vm_control_destroy(struct vm_control *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* Attach r to c (or detach, with r NULL); waits for a control call. */
static void runner_attach(struct runner *r, struct vm_control *c)
{
	if (!c)
		return;
	if (r)
		r->ctl = c;
	pthread_mutex_lock(&c->lock);
	c->runner = r;
	pthread_mutex_unlock(&c->lock);
}

/* Run fn on the attached runner with its lock held; -1 if none. */
static int control_call(struct vm_control *c,
			int (*fn)(struct runner *r, bool arg), bool arg)
{
	int ret = -1;

	pthread_mutex_lock(&c->lock);
	if (c->runner) {
		pthread_mutex_lock(&c->runner->lock);
		ret = fn(c->runner, arg);
		pthread_mutex_unlock(&c->runner->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static int do_stop(struct runner *r, bool arg)
{
	(void)arg;
	r->ctl_stop = true;
	if (r->vm)
		vm_request(r->vm, VM_EVENT_STOP);
	return 0;
}

static int do_power_button(struct runner *r, bool arg)
{
	(void)arg;
	return r->vm && vm_power_button(r->vm) ? 1 : 0;
}

static int do_pause(struct runner *r, bool pause)
{
	r->paused = pause;
	if (r->vm)
		vm_set_paused(r->vm, pause);
	return 0;
}

/* The attached runner and its running VM, with c->lock and r->lock
 * held; -1 (nothing held) if there is none. */
static int lock_vm(struct vm_control *c, struct runner **rp, struct vm **vmp,
		   struct error *err)
{
	struct runner *r;

	pthread_mutex_lock(&c->lock);
	r = c->runner;
	if (!r) {
		pthread_mutex_unlock(&c->lock);
		return err_set(err, "the VM is not running");
	}
	pthread_mutex_lock(&r->lock);
	if (!r->vm || vm_event_pending(r->vm)) {
		pthread_mutex_unlock(&r->lock);
		pthread_mutex_unlock(&c->lock);
		return err_set(err, "the VM is rebooting or stopping: try again");
	}
	*rp = r;
	*vmp = r->vm;
	return 0;
}

int vm_control_snapshot(struct vm_control *c, const struct vm_snapshot_opts *o,
			bool stop, struct error *err)
{
	struct runner *r;
	struct vm *vm;
	int ret;

	if (lock_vm(c, &r, &vm, err) < 0)
		return -1;
	if (r->migrating) {
		ret = err_set(err, "a migration is under way");
	} else if (!r->paused && vm_set_paused(vm, true) < 0) {
		ret = err_set(err, "a vCPU did not stop within 5 s (stuck in "
			      "the host?): no snapshot taken");
		vm_set_paused(vm, false);
	} else {
		ret = vm_snapshot_write(vm, o, err);
		if (ret == 0 && stop) {
			/* No vCPU runs again: they leave their park. */
			r->ctl_stop = true;
			vm_request(vm, VM_EVENT_STOP);
		} else if (!r->paused) {
			vm_set_paused(vm, false);
		}
	}
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* Pause and resume at once: the devices drop what they cannot track
 * (vhost-net hands its rings back to user space while RAM is tracked,
 * and takes them again after). r->lock held. */
static void cycle_devices(struct runner *r, struct vm *vm)
{
	if (r->paused)
		return;		/* quiesced already; resume re-decides */
	vm_set_paused(vm, true);
	vm_set_paused(vm, false);
}

int vm_control_migrate(struct vm_control *c, const struct mig_opts *o,
		       const struct vm_snapshot_opts *so, struct mig_result *res,
		       struct error *err)
{
	struct mig_sender s = { 0 };
	struct runner *r;
	struct vm *vm;
	char answer[MIG_MAX_MESSAGE + 1] = "";
	long long paused_at;
	struct error e;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (lock_vm(c, &r, &vm, err) < 0)
		return -1;
	if (r->migrating || r->backing_up) {
		pthread_mutex_unlock(&r->lock);
		pthread_mutex_unlock(&c->lock);
		return err_set(err, "a %s is under way", r->migrating ?
			       "migration" : "backup");
	}
	r->migrating = true;
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&c->lock);

	/* The VM stays (run_once waits for migrating to clear); r too, as
	 * vm_run returns only after run_once. */
	if (mig_begin(&s, vm, o, err) < 0)
		goto out;
	pthread_mutex_lock(&r->lock);
	cycle_devices(r, vm);
	pthread_mutex_unlock(&r->lock);
	if (mig_precopy(&s, err) < 0)
		goto out;

	pthread_mutex_lock(&r->lock);
	paused_at = now_ms();
	s.paused_at = paused_at;
	res->paused_at_us = wall_us();
	if (vm_event_pending(vm)) {
		err_set(err, "the guest stopped or rebooted during the migration");
	} else if (!r->paused && vm_set_paused(vm, true) < 0) {
		err_set(err, "a vCPU did not stop within 5 s (stuck in the "
			"host?): not migrated");
		vm_set_paused(vm, false);
	} else if (mig_complete(&s, so, res, answer, sizeof(answer), err) == 0) {
		/* The destination runs it: no vCPU runs here again. */
		r->ctl_stop = true;
		vm_request(vm, VM_EVENT_STOP);
		res->downtime_ms = (uint64_t)(now_ms() - paused_at);
		ret = 0;
	} else if (mig_take_back(&s, &e) < 0) {
		/* Not ours to run any more, maybe: stay paused. */
		char first[sizeof(err->msg)];

		snprintf(first, sizeof(first), "%s", err->msg);
		err_set(err, "%.300s; %.500s", first, e.msg);
		r->paused = true;
	} else if (!r->paused) {
		vm_set_paused(vm, false);
	}
	pthread_mutex_unlock(&r->lock);
out:
	mig_end(&s, ret < 0 ? err->msg : NULL);
	pthread_mutex_lock(&r->lock);
	if (ret < 0 && r->vm == vm && !vm_event_pending(vm))
		cycle_devices(r, vm);	/* vhost-net takes its rings again */
	r->migrating = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Settle the marks taken from each disk (ok: the backup is committed)
 * and let go of them. */
static void backup_settle(struct vm *vm, struct vm_backup_disk *d, size_t n,
			  bool ok)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i].tracked)
			blk_cbt_settle(vm->disk_cbt[i], ok);
		blk_bitmap_free(&d[i].marks);
		d[i].tracked = false;
	}
}

/* Copy-before-write on every writable disk of the quiesced vm, and its
 * marks taken out at the same instant. r->lock held. */
static int backup_start(struct vm *vm, const char *tmp_dir, uint32_t chunk,
			struct vm_backup_disk *d, struct error *err)
{
	const struct devices_spec *dv = &vm->devices;
	size_t i;

	for (i = 0; i < dv->ndisks; i++) {
		struct blk_cbt *t = vm->disk_cbt ? vm->disk_cbt[i] : NULL;

		if (dv->disks[i].readonly)
			continue;
		if (t && (blk_bitmap_new_generation(&d[i].new_gen, err) < 0 ||
			  blk_cbt_take(t, d[i].new_gen, &d[i].marks, err) < 0))
			break;
		d[i].tracked = t != NULL;
		if (blk_cbw_start(&vm->disk_cbw[i], dv->disks[i].path, tmp_dir,
				  chunk, err) < 0)
			break;
		d[i].cbw = &vm->disk_cbw[i];
	}
	if (i == dv->ndisks)
		return 0;
	err_prefix(err, "disk %zu", i);
	for (size_t j = 0; j < i; j++)
		if (d[j].cbw)
			blk_cbw_stop(d[j].cbw);
	backup_settle(vm, d, dv->ndisks, false);
	return -1;
}

int vm_control_backup(struct vm_control *c, const char *tmp_dir, uint32_t chunk,
		      int (*fn)(void *opaque, const struct vm_backup_disk *d,
				size_t n, struct error *err),
		      void *opaque, struct error *err)
{
	struct vm_backup_disk *d = NULL;
	struct runner *r;
	struct vm *vm;
	size_t n;
	int ret = -1;

	if (lock_vm(c, &r, &vm, err) < 0)
		return -1;
	n = vm->devices.ndisks;
	if (r->migrating || r->backing_up) {
		err_set(err, "a %s is under way", r->migrating ? "migration" :
			"backup");
	} else if (!(d = calloc(n ? n : 1, sizeof(*d)))) {
		err_set(err, "out of memory");
	} else if (!r->paused && vm_set_paused(vm, true) < 0) {
		err_set(err, "a vCPU did not stop within 5 s (stuck in the "
			"host?): no backup taken");
		vm_set_paused(vm, false);
	} else {
		/* Held still: nothing in flight, every later write passes
		 * the copy-before-write and marks the new set. */
		ret = backup_start(vm, tmp_dir, chunk, d, err);
		if (!r->paused)
			vm_set_paused(vm, false);
	}
	r->backing_up = ret == 0;
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_unlock(&c->lock);
	if (ret < 0) {
		free(d);
		return -1;
	}

	/* The VM stays (run_once waits for backing_up to clear), and its
	 * disks with it: their marks are settled before they close. */
	ret = fn(opaque, d, n, err);

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < n; i++)
		if (d[i].cbw)
			blk_cbw_stop(d[i].cbw);
	backup_settle(vm, d, n, ret == 0);
	r->backing_up = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	free(d);
	return ret;
}

int vm_control_stop(struct vm_control *c)
{
	return control_call(c, do_stop, false);
}

int vm_control_power_button(struct vm_control *c)
{
	return control_call(c, do_power_button, false);
}

int vm_control_pause(struct vm_control *c, bool pause)
{
	return control_call(c, do_pause, pause);
}

int vm_run(const struct machine_spec *cfg, const struct vm_run_opts *opts,
	   struct vm_run_result *res, struct error *err)
{
	struct runner *r = calloc(1, sizeof(*r));
	sigset_t old;
	int ev, ret = 0;

	if (!r)
		return err_set(err, "out of memory");
	memset(res, 0, sizeof(*res));
	if (runner_init(r, &old, opts, err) < 0) {
		runner_fini(r, &old);
		free(r);
		return -1;
	}
	runner_attach(r, opts->control);
	r->restore = opts->restore;
	r->incoming = opts->incoming;
	for (;;) {
		ev = run_once(r, cfg, opts, err);
		res->boots++;
		if (ev < 0) {
			ret = -1;
			break;
		}
		if (ev == VM_EVENT_REBOOT && cfg->on_reboot == ON_REBOOT_RESTART &&
		    !runner_stopped(r))
			continue;
		switch (ev) {
		case VM_EVENT_POWEROFF:
			res->result = VM_RESULT_POWEROFF;
			break;
		case VM_EVENT_REBOOT:
			res->result = runner_stopped(r) ? VM_RESULT_STOPPED
							: VM_RESULT_REBOOT;
			break;
		case VM_EVENT_CRASH:
			res->result = VM_RESULT_CRASH;
			break;
		default:
			res->result = VM_RESULT_STOPPED;
			break;
		}
		break;
	}
	res->stop_signal = r->stop_signal;
	runner_attach(NULL, opts->control);
	runner_fini(r, &old);
	free(r);
	return ret;
}
