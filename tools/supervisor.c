/* The supervisor of a started guest: launching it detached, and the state
 * every kind shares (starting, running, paused, stopping, restarting,
 * exited) behind the control operations, and the restart policy (`restart:`
 * in config.h). What a VM or a container does for each is in its guest_ops
 * table (guest_ops.h); nothing here branches on the kind. */
#include "supervisor.h"
#include "base/fdio.h"
#include "base/clock.h"
#include "ctl_server.h"
#include "control.h"
#include "guest_ops.h"
#include "backup_live.h"
#include "state.h"
#include "tcp_addr.h"
#include "../vmm/machine/migration.h"
#include "../vmm/machine/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <json-c/json.h>

enum sv_state {
	SV_STARTING, SV_RUNNING, SV_PAUSED, SV_STOPPING, SV_RESTARTING,
	SV_EXITED,
};

static const char *const state_names[] = {
	[SV_STARTING] = "starting", [SV_RUNNING] = "running",
	[SV_PAUSED] = "paused", [SV_STOPPING] = "stopping",
	[SV_RESTARTING] = "restarting", [SV_EXITED] = "exited",
};

/* The pause before a restart: doubling from the first to the cap, back to
 * the first after a run of restart_window or more. */
#define RESTART_DELAY_FIRST_MS 100
#define RESTART_DELAY_MAX_MS 5000

/* A long operation on a thread of its own: `vessel migrate`, a live
 * `vessel backup`. */
struct sv_job {
	pthread_t thread;
	bool started;                   /* to be joined */
	bool running;                   /* and has not ended */
};

struct sv {
	const struct guest_config *cfg;
	const struct guest_ops *ops;    /* the guest's kind */
	struct guest *guest;
	struct guest_host host;
	int listen_fd;                  /* the control socket, till served */
	char *definition;               /* cfg->path, absolute */
	pthread_mutex_t lock;           /* everything below */
	enum sv_state state;
	long long started_ms;           /* CLOCK_MONOTONIC, when running */
	time_t started_wall;
	int status_fd;                  /* to `vessel start`; -1 once told */
	long long deadline_ms;          /* hard stop then; 0: none */
	struct ctl_server *srv;
	unsigned restarts;              /* by the restart policy, so far */
	bool stop_asked;                /* stop, snapshot --stop: no restart */
	bool stop_once_running;         /* asked while a restart was starting */
	struct sv_job mig;              /* a `vessel migrate` */
	struct sv_job bk;               /* a live `vessel backup` */
	char *restore_owned;            /* a received migration: removed once
					 * the guest runs (its RAM is mapped) */
};

static void remove_restore_dir(struct sv *sv);

/* Tell `vessel start` how it went, once. With sv->lock held. */
static void report(struct sv *sv, const char *error)
{
	if (sv->status_fd < 0)
		return;
	if (error)
		dprintf(sv->status_fd, "error %s\n", error);
	else
		dprintf(sv->status_fd, "ok %d\n", (int)getpid());
	close(sv->status_fd);
	sv->status_fd = -1;
}

/* With sv->lock held. */
static void set_running(struct sv *sv)
{
	sv->state = SV_RUNNING;
	sv->started_ms = now_ms();
	sv->started_wall = time(NULL);
	report(sv, NULL);
	remove_restore_dir(sv);
}

/* guest_host.running: any thread, without the lock. */
static void host_running(struct guest_host *h)
{
	struct sv *sv = h->opaque;

	pthread_mutex_lock(&sv->lock);
	if (sv->state == SV_STARTING)
		set_running(sv);
	pthread_mutex_unlock(&sv->lock);
}

/* ---- control operations (server thread) -------------------------------- */

/* With sv->lock held. */
static void hard_stop(struct sv *sv)
{
	sv->deadline_ms = 0;
	sv->state = SV_STOPPING;
	sv->ops->kill(sv->guest);
}

static void op_tick(void *opaque)
{
	struct sv *sv = opaque;

	pthread_mutex_lock(&sv->lock);
	if (sv->state == SV_STARTING && sv->guest && sv->ops->poll_started &&
	    sv->ops->poll_started(sv->guest))
		set_running(sv);
	if (sv->stop_once_running && sv->state == SV_RUNNING) {
		sv->stop_once_running = false;
		hard_stop(sv);
	}
	if (sv->deadline_ms && now_ms() >= sv->deadline_ms) {
		ctl_server_note(sv->srv, "stop timeout: stopping it hard");
		hard_stop(sv);
	}
	pthread_mutex_unlock(&sv->lock);
}

static void op_status(void *opaque, struct json_object *o)
{
	struct sv *sv = opaque;
	const struct guest_config *cfg = sv->cfg;

	pthread_mutex_lock(&sv->lock);
	json_object_object_add(o, "name", json_object_new_string(cfg->name));
	json_object_object_add(o, "kind", json_object_new_string(sv->ops->kind));
	json_object_object_add(o, "state",
			       json_object_new_string(state_names[sv->state]));
	if (sv->guest)
		sv->ops->status(sv->guest, o);
	json_object_object_add(o, "restarts", json_object_new_int64(sv->restarts));
	json_object_object_add(o, "uptime", json_object_new_int64(sv->started_ms ?
				(now_ms() - sv->started_ms) / 1000 : 0));
	json_object_object_add(o, "started", json_object_new_int64(sv->started_wall));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "definition", json_object_new_string(
				       sv->definition ? sv->definition : cfg->path));
	pthread_mutex_unlock(&sv->lock);
}

/* With sv->lock held. */
static int check_started(struct sv *sv, struct error *err)
{
	if (sv->state == SV_STARTING)
		return err_set(err, "%s is still starting", sv->cfg->name);
	if (sv->state == SV_EXITED)
		return err_set(err, "%s has stopped", sv->cfg->name);
	if (sv->state == SV_RESTARTING)
		return err_set(err, "%s is waiting to restart", sv->cfg->name);
	return 0;
}

/* A stop between two runs, or while a restarted guest is starting: it
 * is not restarted (again), and is stopped as soon as it runs. With
 * sv->lock held. */
static bool stop_between_runs(struct sv *sv)
{
	if (sv->state == SV_RESTARTING) {
		ctl_server_note(sv->srv, "stop: it will not be restarted");
		sv->stop_asked = true;
		return true;
	}
	if (sv->state == SV_STARTING && sv->restarts > 0) {
		ctl_server_note(sv->srv, "stop: stopping it as soon as it runs");
		sv->stop_asked = sv->stop_once_running = true;
		return true;
	}
	return false;
}

static int op_stop(void *opaque, double timeout, bool force, struct error *err)
{
	struct sv *sv = opaque;
	long long deadline = now_ms() + (long long)(timeout * 1000);
	char note[128];

	pthread_mutex_lock(&sv->lock);
	if (stop_between_runs(sv)) {
		pthread_mutex_unlock(&sv->lock);
		return 0;
	}
	if (check_started(sv, err) < 0) {
		pthread_mutex_unlock(&sv->lock);
		return -1;
	}
	sv->stop_asked = true;
	if (force || timeout == 0) {
		ctl_server_note(sv->srv, "stop --force: stopping it now");
		hard_stop(sv);
		pthread_mutex_unlock(&sv->lock);
		return 0;
	}
	if (sv->ops->shutdown(sv->guest, sv->state == SV_PAUSED, timeout,
			      note, sizeof(note), err) < 0) {
		pthread_mutex_unlock(&sv->lock);
		return -1;
	}
	ctl_server_note(sv->srv, note);
	sv->state = SV_STOPPING;
	if (!sv->deadline_ms || deadline < sv->deadline_ms)
		sv->deadline_ms = deadline;
	pthread_mutex_unlock(&sv->lock);
	return 0;
}

static int op_pause(void *opaque, bool pause, struct error *err)
{
	struct sv *sv = opaque;
	int r = 0;

	pthread_mutex_lock(&sv->lock);
	if (check_started(sv, err) < 0) {
		r = -1;
	} else if (sv->state == SV_STOPPING) {
		r = err_set(err, "%s is stopping", sv->cfg->name);
	} else if (pause != (sv->state == SV_PAUSED)) {
		r = sv->ops->pause(sv->guest, pause, err);
		if (r == 0)
			sv->state = pause ? SV_PAUSED : SV_RUNNING;
	}
	pthread_mutex_unlock(&sv->lock);
	return r;
}

static int op_snapshot(void *opaque, const char *dir, bool stop, bool compress,
		       struct error *err)
{
	struct sv *sv = opaque;
	int r;

	pthread_mutex_lock(&sv->lock);
	r = check_started(sv, err);
	if (r == 0 && sv->state == SV_STOPPING)
		r = err_set(err, "%s is stopping", sv->cfg->name);
	if (r == 0)
		r = guest_snapshot(sv->ops, sv->guest, sv->cfg->name, dir, stop,
				   compress, err);
	if (r == 0) {
		ctl_server_note(sv->srv, stop ? "snapshot taken; stopping" :
				"snapshot taken");
		if (stop)
			sv->state = SV_STOPPING;
		sv->stop_asked |= stop;
	}
	pthread_mutex_unlock(&sv->lock);
	return r;
}

/* ---- long jobs: migrate, backup ---- */

/* With sv->lock held: fn(arg) on a thread of its own as job, once the
 * guest runs and no other job does (an earlier one, ended, is joined);
 * note goes to the console. */
static int job_start(struct sv *sv, struct sv_job *job, void *(*fn)(void *),
		     void *arg, const char *note, struct error *err)
{
	int e;

	if (check_started(sv, err) < 0)
		return -1;
	if (sv->state == SV_STOPPING)
		return err_set(err, "%s is stopping", sv->cfg->name);
	if (sv->mig.running || sv->bk.running)
		return err_set(err, "%s is being %s already", sv->cfg->name,
			       sv->mig.running ? "migrated" : "backed up");
	if (job->started) {
		pthread_join(job->thread, NULL);
		job->started = false;
	}
	e = pthread_create(&job->thread, NULL, fn, arg);
	if (e) {
		errno = e;
		return err_sys(err, "starting a thread for it");
	}
	job->started = job->running = true;
	ctl_server_note(sv->srv, note);
	return 0;
}

/* ---- migrate ---- */

/* The longest a migration waits on the destination: a write, or its
 * answer (which comes once the guest runs there). */
#define MIGRATE_IO_TIMEOUT_S 60

struct mig_job {
	struct sv *sv;
	struct guest *g;
	int client;             /* the CLI's connection (non-blocking) */
	char to[1025];
	struct mig_opts o;
	char *config;
};

/* One JSON line to the CLI; waits up to wait_ms for room. A CLI that went
 * away does not stop the migration. */
static void send_line(int *client, struct json_object *obj, int wait_ms)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;
	long long end = now_ms() + wait_ms;

	while (*client >= 0 && off <= len) {
		const char *p = off < len ? s + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = send(*client, p, n, MSG_NOSIGNAL);
		struct pollfd pf = { .fd = *client, .events = POLLOUT };

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && now_ms() < end &&
		    poll(&pf, 1, (int)(end - now_ms())) > 0)
			continue;
		close(*client);       /* gone or stuck: no more lines */
		*client = -1;
	}
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static void progress_json(struct json_object *o, const struct mig_progress *p)
{
	add_u64(o, "round", p->round);
	add_u64(o, "sent", p->sent);
	add_u64(o, "round_bytes", p->round_bytes);
	add_u64(o, "dirty_bytes", p->dirty_bytes);
	add_u64(o, "rate", p->rate);
	add_u64(o, "dirty_rate", p->dirty_rate);
	add_u64(o, "expected_downtime_ms", p->expected_downtime_ms);
	add_u64(o, "elapsed_ms", p->elapsed_ms);
}

/* A line {"progress": pr} to the CLI (pr is taken). */
static void send_progress(int *client, struct json_object *pr)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "progress", pr);
	send_line(client, o, 1000);
	json_object_put(o);
}

static void job_progress(void *opaque, const struct mig_progress *p)
{
	struct json_object *pr = json_object_new_object();

	progress_json(pr, p);
	send_progress(&((struct mig_job *)opaque)->client, pr);
}

static void *migrate_main(void *arg)
{
	struct mig_job *j = arg;
	struct sv *sv = j->sv;
	struct mig_result res;
	struct json_object *reply = json_object_new_object();
	struct error err;
	char note[2200];
	int r;

	err_clear(&err);
	j->o.fd = tcp_connect(j->to, 10000, &err);
	if (j->o.fd >= 0) {
		/* A destination that stalls must not hold the guest paused. */
		struct timeval tv = { MIGRATE_IO_TIMEOUT_S, 0 };

		setsockopt(j->o.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(j->o.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	r = j->o.fd < 0 ? -1 : sv->ops->migrate(j->g, &j->o, &res, &err);
	if (j->o.fd >= 0)
		close(j->o.fd);
	pthread_mutex_lock(&sv->lock);
	if (r == 0) {
		snprintf(note, sizeof(note), "migrated to %s (downtime %llu ms); "
			 "stopping here", j->to, (unsigned long long)res.downtime_ms);
		sv->stop_asked = true;
		sv->state = SV_STOPPING;
	} else {
		snprintf(note, sizeof(note), "migration to %s failed: %s; it runs "
			 "on here", j->to, err.msg);
	}
	ctl_server_note(sv->srv, note);
	sv->mig.running = false;
	pthread_mutex_unlock(&sv->lock);
	json_object_object_add(reply, "ok", json_object_new_boolean(r == 0));
	if (r < 0) {
		json_object_object_add(reply, "error", json_object_new_string(err.msg));
	} else {
		struct json_object *pr = json_object_new_object();

		progress_json(pr, &res.last);
		json_object_object_add(reply, "last", pr);
		add_u64(reply, "downtime_ms", res.downtime_ms);
		pr = json_object_new_object();
		add_u64(pr, "pause_ms", res.pause_ms);
		add_u64(pr, "last_ms", res.last_ms);
		add_u64(pr, "state_ms", res.state_ms);
		add_u64(pr, "handover_ms", res.handover_ms);
		add_u64(pr, "answer_ms", res.answer_ms);
		json_object_object_add(reply, "downtime_parts", pr);
		add_u64(reply, "total_ms", res.total_ms);
		add_u64(reply, "paused_at_us", (uint64_t)res.paused_at_us);
		add_u64(reply, "rounds", res.rounds);
		add_u64(reply, "sent", res.last.sent);
	}
	send_line(&j->client, reply, 5000);
	json_object_put(reply);
	if (j->client >= 0)
		close(j->client);
	free(j->config);
	free(j);
	return NULL;
}

/* The definition the guest runs, as text. */
static char *read_definition(const char *path, size_t *len, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = malloc(MIG_MAX_CONFIG + 1);
	ssize_t n = -1;

	if (fd >= 0 && buf)
		n = read_full(fd, buf, MIG_MAX_CONFIG + 1);
	if (fd >= 0)
		close(fd);
	if (n < 0 || n > (ssize_t)MIG_MAX_CONFIG) {
		free(buf);
		if (n > 0)
			err_set(err, "%s: the definition is over %u bytes", path,
				MIG_MAX_CONFIG);
		else
			err_sys(err, "%s", path);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

static int op_migrate(void *opaque, struct json_object *req, int fd,
		      struct error *err)
{
	struct sv *sv = opaque;
	struct mig_job *j;
	double dt = control_num(req, "max_downtime_ms", 0);
	double bw = control_num(req, "bandwidth", 0);
	double t = control_num(req, "timeout", 0);
	int r;

	if (!isfinite(dt) || dt < 0 || dt > 3600000 || !isfinite(bw) || bw < 0 ||
	    bw > 1e15 || !isfinite(t) || t < 0 || t > 86400)
		return err_set(err, "max_downtime_ms, bandwidth or timeout out of "
			       "range");
	j = calloc(1, sizeof(*j));
	if (!j)
		return err_set(err, "out of memory");
	snprintf(j->to, sizeof(j->to), "%s", control_str(req, "to"));
	j->sv = sv;
	j->o = (struct mig_opts){
		.max_downtime_ms = (uint64_t)dt, .bandwidth = (uint64_t)bw,
		.timeout_ms = (uint64_t)(t * 1000), .config_dir = sv->cfg->dir,
		.name = sv->cfg->name,
		.with_disks = control_bool(req, "with_disks", false),
		.progress = job_progress, .opaque = j,
	};
	j->config = read_definition(sv->host.definition_copy, &j->o.config_len, err);
	if (!j->config) {
		free(j);
		return -1;
	}
	j->o.config = j->config;
	pthread_mutex_lock(&sv->lock);
	j->g = sv->guest;
	j->client = fd;
	r = sv->ops->migrate ? job_start(sv, &sv->mig, migrate_main, j, "migrating", err) :
	    err_set(err, "a %s cannot be migrated", sv->ops->kind);
	pthread_mutex_unlock(&sv->lock);
	if (r < 0) {
		free(j->config);
		free(j);
	}
	return r;
}

/* ---- backup (a running VM; backup_live.h) ---- */

struct bk_job {
	struct sv *sv;
	struct guest *g;
	int client;             /* the CLI's connection (non-blocking) */
	char repo[PATH_MAX];
};

static void bk_progress(void *opaque, const struct progress *pg)
{
	struct json_object *pr = json_object_new_object();

	add_u64(pr, "total", pg->total);
	add_u64(pr, "done", pg->done);
	add_u64(pr, "read", pg->read);
	add_u64(pr, "stored", pg->stored);
	send_progress(&((struct bk_job *)opaque)->client, pr);
}

static void *backup_main(void *arg)
{
	struct bk_job *j = arg;
	struct sv *sv = j->sv;
	struct live_backup b = {
		.repo = j->repo, .report = bk_progress, .opaque = j,
		.definition = sv->definition ? sv->definition : sv->cfg->path,
	};
	struct json_object *reply = json_object_new_object();
	struct error err;
	char note[1200];
	int r;

	err_clear(&err);
	r = sv->ops->backup(j->g, &b, &err);
	pthread_mutex_lock(&sv->lock);
	if (r == 0)
		snprintf(note, sizeof(note), "backup %s taken", b.id);
	else
		snprintf(note, sizeof(note), "backup failed: %.1000s", err.msg);
	ctl_server_note(sv->srv, note);
	sv->bk.running = false;
	pthread_mutex_unlock(&sv->lock);
	json_object_object_add(reply, "ok", json_object_new_boolean(r == 0));
	if (r < 0) {
		json_object_object_add(reply, "error", json_object_new_string(err.msg));
	} else {
		json_object_object_add(reply, "id", json_object_new_string(b.id));
		add_u64(reply, "cbw_chunks", b.st.copies);
		add_u64(reply, "cbw_bytes", b.st.copied);
		add_u64(reply, "cbw_waits", b.st.waits);
	}
	send_line(&j->client, reply, 5000);
	json_object_put(reply);
	if (j->client >= 0)
		close(j->client);
	free(j);
	return NULL;
}

/* "backup" (ctl_server.c checked "repo"): from a thread of its own. */
static int op_backup(void *opaque, struct json_object *req, int fd,
		     struct error *err)
{
	struct sv *sv = opaque;
	struct bk_job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return err_set(err, "out of memory");
	snprintf(j->repo, sizeof(j->repo), "%s", control_str(req, "repo"));
	j->sv = sv;
	pthread_mutex_lock(&sv->lock);
	j->g = sv->guest;
	j->client = fd;
	r = sv->ops->backup ? job_start(sv, &sv->bk, backup_main, j, "backing up", err) :
	    err_set(err, "a %s is not backed up by its supervisor: `vessel "
		    "backup` reads it itself", sv->ops->kind);
	pthread_mutex_unlock(&sv->lock);
	if (r < 0)
		free(j);
	return r;
}

/* After run returned: a job's thread, if any, is done with the guest
 * before it is destroyed. */
static void job_join(struct sv *sv, struct sv_job *job)
{
	bool started;

	pthread_mutex_lock(&sv->lock);
	started = job->started;
	job->started = false;
	pthread_mutex_unlock(&sv->lock);
	if (started)
		pthread_join(job->thread, NULL);
}

/* With sv->lock held (or single-threaded). */
static void remove_restore_dir(struct sv *sv)
{
	if (!sv->restore_owned)
		return;
	vm_snapshot_remove(sv->restore_owned);
	free(sv->restore_owned);
	sv->restore_owned = NULL;
}

/* A console client's terminal size, for a kind whose console has one. */
static void op_resize(void *opaque, unsigned rows, unsigned cols)
{
	struct sv *sv = opaque;

	pthread_mutex_lock(&sv->lock);
	if (sv->ops->resize && sv->guest)
		sv->ops->resize(sv->guest, rows, cols);
	pthread_mutex_unlock(&sv->lock);
}

static const struct ctl_ops sv_ops = {
	.status = op_status, .stop = op_stop, .pause = op_pause,
	.snapshot = op_snapshot, .migrate = op_migrate, .backup = op_backup,
	.resize = op_resize, .tick = op_tick,
};

/* ---- the supervisor process -------------------------------------------- */

/* guest_host.serve */
static int host_serve(struct guest_host *h, int out_fd, int in_fd,
		      struct error *err)
{
	struct sv *sv = h->opaque;
	char log[STATE_PATH_MAX];
	struct ctl_server_params p = {
		.listen_fd = sv->listen_fd, .owner = getuid(), .out_fd = out_fd,
		.in_fd = in_fd, .log_path = log, .ops = &sv_ops, .opaque = sv,
	};

	if (sv->srv)            /* a restart: the same server, a new console */
		return ctl_server_console(sv->srv, out_fd, in_fd, err);
	if (state_path(log, sizeof(log), sv->cfg->name, STATE_LOG, err) < 0)
		return -1;
	return ctl_server_start(&sv->srv, &p, err);
}

/* Close every fd from 3 up except the sorted keep[]. */
static void close_except(const int *keep, int n)
{
	unsigned lo = 3;

	for (int i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo)
			close_range(lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

static void sort_fds(int *v, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (v[j] < v[i]) {
				int t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
}

/* go_fd: a received guest's "go" pipe (supervisor_prepare_received), or
 * -1. */
static void become_daemon(const char *name, int lock_fd, int listen_fd,
			  int status_fd, int go_fd)
{
	int keep[4] = { lock_fd, listen_fd, status_fd,
			go_fd >= 0 ? go_fd : lock_fd }, null;
	char comm[16], path[STATE_PATH_MAX];
	struct error ignored;
	FILE *f;

	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	sort_fds(keep, 4);
	close_except(keep, 4);
	if (chdir("/") < 0) {
		/* config paths are absolute: the directory does not matter */
	}
	umask(077);
	snprintf(comm, sizeof(comm), "vessel:%s", name);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (state_path(path, sizeof(path), name, STATE_PID, &ignored) == 0 &&
	    (f = fopen(path, "we"))) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

/* Does the policy restart a guest that ended on its own? */
static bool policy_restarts(enum restart_policy p, bool failed)
{
	return p == RESTART_ALWAYS || (p == RESTART_ON_FAILURE && failed);
}

/* Wait ms before a restart; false if a stop (the control socket, or a
 * terminating signal to the supervisor) came meanwhile. */
static bool restart_delay(struct sv *sv, long long ms, const sigset_t *sigs)
{
	long long end = now_ms() + ms, left;
	struct timespec ts;
	bool stop;
	int sig;

	for (;;) {
		pthread_mutex_lock(&sv->lock);
		stop = sv->stop_asked;
		pthread_mutex_unlock(&sv->lock);
		left = end - now_ms();
		if (stop || left <= 0)
			return !stop;
		if (left > CTL_TICK_MS)
			left = CTL_TICK_MS;
		ts = (struct timespec){ .tv_sec = 0, .tv_nsec = left * 1000000 };
		sig = sigtimedwait(sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP ||
		    sig == SIGQUIT) {
			pthread_mutex_lock(&sv->lock);
			if (sv->srv)
				ctl_server_note(sv->srv, "stopped by a signal while "
						"waiting to restart");
			sv->stop_asked = true;
			pthread_mutex_unlock(&sv->lock);
		}
	}
}

/* The give-up count of quick restarts in a row, and the backoff. */
struct restart_streak {
	unsigned count;
	long long since_ms;     /* when the streak's first run started */
	long long delay_ms;
};

/* After a run that started at t0 ended and the policy wants it again:
 * 0 with the pause before the restart in s->delay_ms, or -1 with why it
 * is given up on in msg. */
static int restart_next(const struct guest_config *cfg,
			struct restart_streak *s, long long t0, char *msg,
			size_t len)
{
	long long now = now_ms();

	if (now - t0 >= (long long)(cfg->restart_window * 1000) ||
	    s->count == 0) {
		s->count = 0;
		s->since_ms = t0;
		s->delay_ms = 0;
	}
	if (cfg->restart_max && s->count >= (unsigned)cfg->restart_max) {
		snprintf(msg, len, "restart: gave up after %u restart%s in %.1f s "
			 "(each run shorter than restart_window, %g s)",
			 s->count, s->count == 1 ? "" : "s",
			 (now - s->since_ms) / 1000.0,
			 cfg->restart_window);
		return -1;
	}
	s->count++;
	s->delay_ms = s->delay_ms ? s->delay_ms * 2 : RESTART_DELAY_FIRST_MS;
	if (s->delay_ms > RESTART_DELAY_MAX_MS)
		s->delay_ms = RESTART_DELAY_MAX_MS;
	return 0;
}

static void __attribute__((noreturn)) supervise(const struct guest_config *cfg,
						const char *restore, bool owned,
						int go_fd, int lock_fd,
						int listen_fd, int status_fd)
{
	struct sv sv = {
		.cfg = cfg, .ops = guest_ops_of(cfg->kind), .listen_fd = listen_fd,
		.status_fd = status_fd,
	};
	struct restart_streak streak = { 0 };
	char def[STATE_PATH_MAX], line[320];
	struct guest_exit ex;
	struct guest *g, *old;
	sigset_t block, old_mask;
	const char *last = NULL;
	struct error err;
	char msg[256] = "";
	bool again, failed;
	long long t0;
	int r, status;

	err_clear(&err);
	sv.definition = realpath(cfg->path, NULL);
	if (restore && owned)
		sv.restore_owned = strdup(restore);
	become_daemon(cfg->name, lock_fd, listen_fd, status_fd, go_fd);
	pthread_mutex_init(&sv.lock, NULL);
	/* The control and console threads never take signals. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);     /* a VM's runner reads it: a dump */
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	sv.host = (struct guest_host){
		.cfg = cfg, .old_mask = &old_mask, .blocked = &block,
		.serve = host_serve, .running = host_running, .opaque = &sv,
		.restore = restore, .definition_copy = def,
		.incoming_fd = go_fd,
	};
	if (state_path(def, sizeof(def), cfg->name, STATE_DEF, &err) < 0)
		def[0] = '\0';
	for (;;) {
		ex = (struct guest_exit){ 0 };
		g = NULL;
		t0 = now_ms();
		r = sv.ops->create(&sv.host, &g, &err);
		pthread_mutex_lock(&sv.lock);
		sv.guest = g;
		pthread_mutex_unlock(&sv.lock);
		if (r == 0)
			r = sv.ops->run(sv.guest, msg, sizeof(msg), &ex, &err);
		job_join(&sv, &sv.mig);
		job_join(&sv, &sv.bk);
		status = r < 0 ? 1 : ex.status & 0xff;
		last = r < 0 ? err.msg : msg;
		failed = r < 0 || ex.status != 0;
		pthread_mutex_lock(&sv.lock);
		/* A run that failed before `vessel start` heard it ran is
		 * that start's error, never restarted. */
		again = !sv.stop_asked && !ex.stopped && sv.srv &&
			!(r < 0 && sv.status_fd >= 0) &&
			policy_restarts(cfg->restart, failed);
		sv.state = again ? SV_RESTARTING : SV_EXITED;
		sv.deadline_ms = 0;
		sv.stop_once_running = false;
		if (again)
			report(&sv, NULL);      /* it ran: `vessel start` is done */
		pthread_mutex_unlock(&sv.lock);
		if (!again)
			break;
		ctl_server_console_end(sv.srv);
		ctl_server_note(sv.srv, last);
		last = NULL;
		if (restart_next(cfg, &streak, t0, line, sizeof(line)) < 0) {
			last = line;
			pthread_mutex_lock(&sv.lock);
			sv.state = SV_EXITED;
			pthread_mutex_unlock(&sv.lock);
			break;
		}
		pthread_mutex_lock(&sv.lock);
		old = sv.guest;
		sv.guest = NULL;
		sv.restarts++;
		snprintf(line, sizeof(line), "restart %u (%s): in %.1f s",
			 sv.restarts, failed ? "it failed" : "restart: always",
			 streak.delay_ms / 1000.0);
		ctl_server_note(sv.srv, line);
		pthread_mutex_unlock(&sv.lock);
		if (old)
			sv.ops->destroy(old);
		/* A restart boots afresh. Unlike the first run's, a restarted
		 * container's runner is forked while the control threads
		 * run: they hold no lock the runner takes (they use no stdio,
		 * and glibc's fork keeps malloc usable in the child). */
		sv.host.restore = NULL;
		if (sv.host.incoming_fd >= 0)
			close(sv.host.incoming_fd);
		sv.host.incoming_fd = -1;
		if (!restart_delay(&sv, streak.delay_ms, &block)) {
			pthread_mutex_lock(&sv.lock);
			sv.state = SV_EXITED;
			pthread_mutex_unlock(&sv.lock);
			break;
		}
		pthread_mutex_lock(&sv.lock);
		sv.state = SV_STARTING;
		pthread_mutex_unlock(&sv.lock);
		err_clear(&err);
		msg[0] = '\0';
	}
	if (sv.srv) {
		if (last)
			ctl_server_note(sv.srv, last);
		ctl_server_finish(sv.srv);      /* closes listen_fd */
	} else {
		close(listen_fd);
	}
	if (sv.guest)
		sv.ops->destroy(sv.guest);
	remove_restore_dir(&sv);
	state_remove(cfg->name);
	pthread_mutex_lock(&sv.lock);
	/* Failed before it ran, or (a quick container) ran and ended. */
	report(&sv, r < 0 ? err.msg : NULL);
	pthread_mutex_unlock(&sv.lock);
	_exit(status);
}

/* ---- `vessel start` ----------------------------------------------------- */

static int copy_definition(const struct guest_config *cfg, struct error *err)
{
	char path[STATE_PATH_MAX];

	if (state_path(path, sizeof(path), cfg->name, STATE_DEF, err) < 0)
		return -1;
	return copy_file(cfg->path, path, false, err);
}

static int listen_socket(const char *name, struct error *err)
{
	struct sockaddr_un sa;
	const char *path = sa.sun_path;
	int fd;

	if (control_addr(name, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(err, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, SOMAXCONN) < 0) {
		err_sys(err, "control socket %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the supervisor's "ok PID" or "error MESSAGE" (or end-of-file). */
static int read_status(int fd, pid_t *pid, struct error *err)
{
	char buf[sizeof(err->msg) + 16];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!strncmp(buf, "ok ", 3)) {
		*pid = (pid_t)atoi(buf + 3);
		return 0;
	}
	if (!strncmp(buf, "error ", 6))
		return err_set(err, "%s", buf + 6);
	return err_set(err, "the supervisor died while starting the guest");
}

/* Claim the name, then fork the supervisor; *status_fd reads what it
 * reports (read_status). go: a received guest's "go" pipe, whose read end
 * the supervisor keeps (the caller closes its copy), or NULL. */
static int spawn(const struct guest_config *cfg, const char *restore,
		 bool owned, const int *go, int *status_fd, struct error *err)
{
	int lock_fd, listen_fd, st[2], fd;
	pid_t child, g;

	/* With stdin, stdout or stderr closed, the lock or the socket could
	 * land on 0..2, which the supervisor points at /dev/null. */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (state_claim(cfg->name, &lock_fd, err) < 0)
		return -1;
	if (copy_definition(cfg, err) < 0 ||
	    (listen_fd = listen_socket(cfg->name, err)) < 0)
		goto fail;
	if (pipe2(st, O_CLOEXEC) < 0) {
		err_sys(err, "pipe");
		close(listen_fd);
		goto fail;
	}
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child == 0) {
		close(st[0]);
		if (go)
			close(go[1]);
		setsid();
		g = fork();
		if (g != 0)
			_exit(g < 0);
		supervise(cfg, restore, owned, go ? go[0] : -1, lock_fd,
			  listen_fd, st[1]);
	}
	close(st[1]);
	close(listen_fd);
	close(lock_fd);
	if (child < 0) {
		close(st[0]);
		err_sys(err, "fork");
		state_remove(cfg->name);
		return -1;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	*status_fd = st[0];
	return 0;
fail:
	close(lock_fd);
	state_remove(cfg->name);
	return -1;
}

/* What the supervisor spawned for name reports: it runs (0), or failed. */
static int started(const char *name, int status_fd, pid_t *pid,
		   struct error *err)
{
	int ret = read_status(status_fd, pid, err);

	close(status_fd);
	if (ret < 0)
		state_probe(name, &(struct error){ 0 }); /* clean if dead */
	return ret;
}

int supervisor_start(const struct guest_config *cfg, const char *restore,
		     pid_t *pid, struct error *err)
{
	int status_fd;

	if (spawn(cfg, restore, false, NULL, &status_fd, err) < 0)
		return -1;
	return started(cfg->name, status_fd, pid, err);
}

int supervisor_prepare_received(const struct guest_config *cfg,
				const char *dir, struct supervisor_pending *p,
				struct error *err)
{
	int go[2];

	if (pipe2(go, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	snprintf(p->name, sizeof(p->name), "%s", cfg->name);
	p->go_fd = go[1];
	if (spawn(cfg, dir, true, go, &p->status_fd, err) < 0) {
		close(go[0]);
		close(go[1]);
		p->go_fd = -1;
		return -1;
	}
	close(go[0]);
	return 0;
}

int supervisor_go(struct supervisor_pending *p, pid_t *pid, struct error *err)
{
	ssize_t n;

	while ((n = write(p->go_fd, "g", 1)) < 0 && errno == EINTR)
		;
	close(p->go_fd);
	p->go_fd = -1;
	/* A supervisor that died already says so on its status pipe. */
	return started(p->name, p->status_fd, pid, err);
}

void supervisor_abandon(struct supervisor_pending *p)
{
	pid_t pid;

	close(p->go_fd);
	p->go_fd = -1;
	started(p->name, p->status_fd, &pid, &(struct error){ 0 });
}
