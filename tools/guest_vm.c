/* The supervisor's operations on a VM (guest_ops.h): vm_run() in the
 * supervisor's process, driven through a vm_control; the console is a
 * pair of pipes. */
#include "guest_ops.h"
#include "backup_live.h"
#include "base/fdio.h"
#include "timings.h"
#include "../vmm/machine/machine.h"
#include "../vmm/machine/migration.h"
#include "../vmm/machine/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <json-c/json.h>

struct guest {
	struct guest_host *host;
	struct vm_control vmc;
};

static void on_started(void *opaque)
{
	struct guest *g = opaque;

	g->host->running(g->host);
}

static int vm_create_guest(struct guest_host *h, struct guest **out,
			   struct error *err)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		return err_set(err, "out of memory");
	g->host = h;
	vm_control_init(&g->vmc, on_started, g);
	*out = g;
	return 0;
}

static void vm_destroy_guest(struct guest *g)
{
	vm_control_destroy(&g->vmc);
	free(g);
}

static const char *vm_outcome(const struct vm_run_result *res, char *buf,
			      size_t len)
{
	switch (res->result) {
	case VM_RESULT_POWEROFF:
		return "the guest powered off";
	case VM_RESULT_REBOOT:
		return "the guest rebooted (on_reboot: exit)";
	case VM_RESULT_CRASH:
		return "the guest crashed";
	case VM_RESULT_STOPPED:
		break;
	}
	if (res->stop_signal)
		snprintf(buf, len, "the guest was stopped by signal %d",
			 res->stop_signal);
	else
		snprintf(buf, len, "the guest was stopped");
	return buf;
}

/* A migration's destination (vm_incoming.await): the receiver says
 * whether the rest arrived; then the snapshot it wrote is opened. */
struct incoming {
	struct guest *g;
	const struct machine_spec *vmcfg;
	struct vm_snapshot *snap;
};

static int await_incoming(void *opaque, struct vm_snapshot **out,
			  struct error *err)
{
	struct incoming *in = opaque;
	char c = 0;
	ssize_t n;

	while ((n = read(in->g->host->incoming_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || c != 'g')
		return err_set(err, "the migration did not complete");
	if (vm_snapshot_open(in->snap, in->g->host->restore, err) < 0 ||
	    vm_snapshot_check(in->snap, in->vmcfg, err) < 0)
		return -1;
	*out = in->snap;
	return 0;
}

/* What a restored guest starts from: a snapshot directory, opened and
 * checked now; or a migration's (the receiver's directory): its memory
 * file now, to be mapped while the rest arrives, the rest once the
 * receiver says "go" (await_incoming). Nothing to do for a boot. */
static int restore_setup(struct guest *g, const struct machine_spec *vmcfg,
			 struct vm_run_opts *opts, struct vm_snapshot **out,
			 struct vm_incoming *incoming, struct incoming *inc,
			 struct error *err)
{
	char path[PATH_MAX + 16];
	struct vm_snapshot *snap;

	if (!g->host->restore)
		return 0;
	snap = calloc(1, sizeof(*snap));
	if (!snap)
		return err_set(err, "out of memory");
	snap->mem_fd = -1;
	if (g->host->incoming_fd < 0) {
		if (vm_snapshot_open(snap, g->host->restore, err) < 0 ||
		    vm_snapshot_check(snap, vmcfg, err) < 0) {
			vm_snapshot_close(snap);
			free(snap);
			return -1;
		}
		opts->restore = snap;
		*out = snap;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/" SNAPSHOT_MEMORY, g->host->restore);
	*inc = (struct incoming){ .g = g, .vmcfg = vmcfg, .snap = snap };
	*incoming = (struct vm_incoming){
		.mem_fd = open(path, O_RDONLY | O_CLOEXEC),
		.ram_size = vmcfg->memory, .await = await_incoming,
		.opaque = inc,
	};
	if (incoming->mem_fd < 0) {
		err_sys(err, "%s", path);
		free(snap);
		return -1;
	}
	opts->incoming = incoming;
	*out = snap;
	return 0;
}

static int vm_run_guest(struct guest *g, char *msg, size_t len,
			struct guest_exit *ex, struct error *err)
{
	const struct guest_config *cfg = g->host->cfg;
	struct machine_spec vmcfg = cfg->vm;
	struct vm_snapshot *snap = NULL;
	struct vm_incoming incoming;
	struct incoming inc;
	struct vm_run_result res;
	struct vm_run_opts opts;
	int in[2], out[2], r, saved_err;

	if (pipe2(in, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return err_sys(err, "pipe");
	}
	if (g->host->serve(g->host, out[0], in[1], err) < 0) {
		close(in[0]);
		close(out[1]);
		return -1;
	}
	opts = (struct vm_run_opts){ .in_fd = in[0], .out_fd = out[1],
				     .control = &g->vmc };
	vmcfg.name = cfg->name;
	if (restore_setup(g, &vmcfg, &opts, &snap, &incoming, &inc, err) < 0) {
		close(in[0]);
		close(out[1]);
		return -1;
	}
	/* What the VMM itself reports while the guest runs (a crash's
	 * register dump, warnings) joins the console stream: `vessel logs`
	 * and an attached console show it. */
	saved_err = dup(2);
	dup2(out[1], 2);
	r = vm_run(&vmcfg, &opts, &res, err);
	if (opts.incoming)
		close(incoming.mem_fd);
	if (snap) {
		vm_snapshot_close(snap);
		free(snap);
	}
	if (saved_err >= 0) {
		dup2(saved_err, 2);
		close(saved_err);
	}
	close(in[0]);
	close(out[1]);          /* the pump sees the end of the output */
	if (r == 0) {
		char buf[64];

		snprintf(msg, len, "%s", vm_outcome(&res, buf, sizeof(buf)));
		ex->status = res.result == VM_RESULT_CRASH ? 1 :
			res.stop_signal ? 128 + res.stop_signal : 0;
		ex->stopped = res.result == VM_RESULT_STOPPED;
	}
	return r;
}

static void vm_status(struct guest *g, struct json_object *o)
{
	const struct guest_config *cfg = g->host->cfg;

	json_object_object_add(o, "vcpus", json_object_new_int(cfg->vm.vcpus));
	json_object_object_add(o, "memory", json_object_new_int64(cfg->vm.memory));
	json_object_object_add(o, "timings", timings_json());
}

static int vm_shutdown(struct guest *g, bool paused, double timeout,
		       char *note, size_t len, struct error *err)
{
	int r;

	(void)err;
	if (paused)
		vm_control_pause(&g->vmc, false);
	r = vm_control_power_button(&g->vmc);
	snprintf(note, len, "stop: power button pressed%s; hard stop in %g s",
		 r == 0 ? " (the guest has not enabled it)" : "", timeout);
	return 0;
}

static void vm_kill(struct guest *g)
{
	vm_control_stop(&g->vmc);
}

static int vm_pause(struct guest *g, bool pause, struct error *err)
{
	if (vm_control_pause(&g->vmc, pause) < 0)
		return err_set(err, "%s is between two boots; try again",
			       g->host->cfg->name);
	return 0;
}

/* Copy the definition the guest runs to path (a snapshot's config.yaml). */
static int vm_snapshot_guest(struct guest *g, const char *dir, bool stop,
			     bool compress, struct error *err)
{
	struct vm_snapshot_opts o = {
		.dir = dir, .compress = compress, .config_dir = g->host->cfg->dir,
	};
	char conf[PATH_MAX + 16];

	snprintf(conf, sizeof(conf), "%s/" SNAPSHOT_CONFIG, dir);
	if (copy_file(g->host->definition_copy, conf, true, err) < 0)
		return -1;
	if (vm_control_snapshot(&g->vmc, &o, stop, err) < 0) {
		unlink(conf);
		return -1;
	}
	return 0;
}

static int vm_migrate_guest(struct guest *g, const struct mig_opts *o,
			    struct mig_result *res, struct error *err)
{
	struct vm_snapshot_opts so = { .config_dir = g->host->cfg->dir };

	return vm_control_migrate(&g->vmc, o, &so, res, err);
}

static int vm_backup_guest(struct guest *g, struct live_backup *b,
			   struct error *err)
{
	return live_backup_run(&g->vmc, g->host->cfg, b, err);
}

const struct guest_ops guest_vm_ops = {
	.kind = "vm",
	.create = vm_create_guest,
	.run = vm_run_guest,
	.status = vm_status,
	.shutdown = vm_shutdown,
	.kill = vm_kill,
	.pause = vm_pause,
	.snapshot = vm_snapshot_guest,
	.migrate = vm_migrate_guest,
	.backup = vm_backup_guest,
	.destroy = vm_destroy_guest,
};
