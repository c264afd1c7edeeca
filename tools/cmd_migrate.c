/* vessel migrate NAME HOST:PORT (the source: asks NAME's supervisor to
 * migrate it and prints its progress) and vessel receive --listen
 * ADDR:PORT (the destination: takes one migration into a snapshot
 * directory and starts the guest from it under a supervisor). The
 * protocol: vmm/machine/migration.h and docs/migration.md. */
#include "manage.h"
#include "base/clock.h"
#include "config.h"
#include "control.h"
#include "exit_codes.h"
#include "schema.h"
#include "state.h"
#include "supervisor.h"
#include "tcp_addr.h"
#include "../vmm/machine/migration.h"
#include "../vmm/machine/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#define RECEIVE_TIMEOUT_S 600   /* default wait for a migration to arrive */
#define STREAM_IDLE_S     60    /* the stream may pause this long */

void usage_migrate(FILE *out)
{
	fprintf(out,
		"usage: vessel migrate [OPTIONS] NAME HOST:PORT\n"
		"\n"
		"Move the started VM NAME, running, to the host where `vessel\n"
		"receive --listen HOST:PORT` waits. Its memory is copied while it\n"
		"runs, in rounds, until what it wrote since fits the allowed\n"
		"downtime; it is then paused, the rest and its device state are\n"
		"sent, and once it runs on the destination it stops here. If\n"
		"anything fails first, it keeps running here.\n"
		"\n"
		"Without --with-disks the disks must be on storage both hosts see\n"
		"under the same paths, and are not copied. With it, each image is\n"
		"copied while the guest runs, and the blocks it writes meanwhile\n"
		"are sent again; the destination writes them under its --dir.\n"
		"The stream is not encrypted: use a trusted link or an SSH tunnel\n"
		"(see docs/migration.md).\n"
		"\n"
		"options:\n"
		"  --max-downtime T  the longest pause allowed (default 300ms; ms, s)\n"
		"  --bandwidth RATE  bytes per second at most (K, M, G; default: no limit)\n"
		"  --with-disks      copy the disk images too\n"
		"  --timeout T       give up when not converged after T (default 600s)\n"
		"  --json            progress and result as JSON lines\n"
		"  -h, --help        this help\n"
		"\n"
		"exit status: 0 migrated; 1 not migrated (it runs on here); 2 a\n"
		"usage error.\n");
}

void usage_receive(FILE *out)
{
	fprintf(out,
		"usage: vessel receive --listen ADDR:PORT [--dir DIR] [--timeout T]\n"
		"\n"
		"Wait on ADDR:PORT for one VM that `vessel migrate` sends, then run\n"
		"it under a supervisor, like `vessel start`, under its own name.\n"
		"Returns once it runs (0), or when the migration failed (1): what\n"
		"was received is then discarded and the source keeps the guest.\n"
		"One migration per call; the listening socket closes after it.\n"
		"\n"
		"A guest sent with --with-disks has its images written to\n"
		"DIR/FILE, FILE being each image's file name at the source; one that\n"
		"exists is never overwritten (the migration fails), and without\n"
		"--dir such a guest is refused. Its definition here uses them.\n"
		"\n"
		"The guest's memory arrives in DIR/incoming.PID (DIR: vessel's run\n"
		"directory unless given), which goes away once the guest runs (one\n"
		"a killed receiver left is removed by the next). The guest's RAM maps\n"
		"that memory file until it ends (copy-on-write), so on tmpfs (the run\n"
		"directory) its pages take memory: give a DIR on a disk for big guests.\n"
		"The stream is not encrypted and anyone who can reach ADDR:PORT\n"
		"can send a guest: listen on a trusted link only.\n"
		"\n"
		"options:\n"
		"  --listen ADDR:PORT  where to wait ([IPV6]:PORT for IPv6)\n"
		"  --dir DIR           where the memory and copied disks are received\n"
		"  --timeout T         give up if nothing arrives within T (default\n"
		"                      600s; 0: wait for ever)\n"
		"  -h, --help          this help\n"
		"\n"
		"exit status: 0 the guest runs here; 1 the migration failed; 2 a\n"
		"usage error.\n");
}

/* ---- migrate ---- */

static void print_progress(struct json_object *p, bool json)
{
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(
			       p, JSON_C_TO_STRING_PLAIN));
	} else {
		struct json_object *pr = NULL;

		json_object_object_get_ex(p, "progress", &pr);
		printf("round %.0f: %.1f MiB sent, %.1f MiB this round at %.1f "
		       "MiB/s; dirty %.1f MiB (%.1f MiB/s), expected downtime "
		       "%.0f ms\n",
		       control_num(pr, "round", 0),
		       control_num(pr, "sent", 0) / 1048576,
		       control_num(pr, "round_bytes", 0) / 1048576,
		       control_num(pr, "rate", 0) / 1048576,
		       control_num(pr, "dirty_bytes", 0) / 1048576,
		       control_num(pr, "dirty_rate", 0) / 1048576,
		       control_num(pr, "expected_downtime_ms", 0));
	}
	fflush(stdout);
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "with-disks", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	double downtime = 0.3, timeout = 600;
	uint64_t bandwidth = 0;
	bool json = false, with_disks = false;
	struct json_object *req, *msg;
	struct error err;
	char host[256], port[8];
	const char *name, *to;
	int c, fd, r = EXIT_HOST;

	err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_migrate(stdout);
			return 0;
		case 'd':
			if (schema_parse_seconds(optarg, &downtime) < 0 ||
			    downtime <= 0 || downtime > 3600) {
				fprintf(stderr, "vessel: --max-downtime '%s': "
					"expected a time such as 100ms or 1s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (schema_parse_size(optarg, &bandwidth) < 0 ||
			    !bandwidth) {
				fprintf(stderr, "vessel: --bandwidth '%s': expected "
					"bytes per second such as 100M or 1G\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (schema_parse_seconds(optarg, &timeout) < 0 ||
			    timeout <= 0 || timeout > 86400) {
				fprintf(stderr, "vessel: --timeout '%s': expected "
					"a time such as 90s or 10m\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			with_disks = true;
			break;
		default:
			usage_migrate(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		usage_migrate(stderr);
		return EXIT_USAGE;
	}
	name = argv[optind];
	to = argv[optind + 1];
	if (tcp_addr_split(to, host, sizeof(host), port, sizeof(port), &err) < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_USAGE;
	}
	fd = guest_connect(name, &err);
	if (fd < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return err.input ? EXIT_USAGE : EXIT_HOST;
	}
	req = control_request("migrate");
	json_object_object_add(req, "to", json_object_new_string(to));
	json_object_object_add(req, "max_downtime_ms",
			       json_object_new_double(downtime * 1000));
	json_object_object_add(req, "bandwidth",
			       json_object_new_double((double)bandwidth));
	json_object_object_add(req, "timeout", json_object_new_double(timeout));
	json_object_object_add(req, "with_disks", json_object_new_boolean(with_disks));
	if (control_send(fd, req, &err) < 0) {
		json_object_put(req);
		close(fd);
		fprintf(stderr, "vessel: %s: %s\n", name, err.msg);
		return EXIT_HOST;
	}
	json_object_put(req);
	/* Progress lines, then the reply. A round can take long on a slow
	 * link: the supervisor reports after each. */
	for (;;) {
		if (control_read(fd, &msg, (int)(timeout * 1000) + 120000, &err) < 0) {
			fprintf(stderr, "vessel: %s: %s\n", name, err.msg);
			break;
		}
		if (json_object_object_get_ex(msg, "progress", NULL)) {
			print_progress(msg, json);
			json_object_put(msg);
			continue;
		}
		if (!control_bool(msg, "ok", false)) {
			const char *e = control_str(msg, "error");

			if (json)
				printf("%s\n", json_object_to_json_string_ext(
					       msg, JSON_C_TO_STRING_PLAIN));
			fprintf(stderr, "vessel: %s: not migrated: %s\n", name,
				e ? e : "failed");
		} else {
			if (json)
				printf("%s\n", json_object_to_json_string_ext(
					       msg, JSON_C_TO_STRING_PLAIN));
			else
				printf("%s: migrated to %s: downtime %.0f ms, total "
				       "%.1f s, %.0f rounds, %.1f MiB sent\n", name,
				       to, control_num(msg, "downtime_ms", 0),
				       control_num(msg, "total_ms", 0) / 1000,
				       control_num(msg, "rounds", 0),
				       control_num(msg, "sent", 0) / 1048576);
			r = 0;
		}
		json_object_put(msg);
		break;
	}
	/* Migrated: the supervisor here goes away; wait for it. */
	if (r == 0 && guest_wait_gone(fd, now_ms() + 30000) < 0)
		fprintf(stderr, "vessel: %s: migrated, but the source did not "
			"go away within 30 s\n", name);
	close(fd);
	return r;
}

/* ---- receive ---- */

#define MADE_SUFFIX ".disks"   /* incoming.PID.disks: images made */

/* The images a killed receiver made (its list names them), then the
 * list. */
static void remove_made(const char *list)
{
	char line[PATH_MAX + 2];
	FILE *f = fopen(list, "re");

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '/')
			unlink(line);
	}
	if (f)
		fclose(f);
	unlink(list);
}

/* incoming.PID directories and incoming.PID.disks lists left by
 * receivers that were killed. */
static void remove_stale(const char *base)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d = opendir(base);
	char *end;
	long pid;

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "incoming.", 9))
			continue;
		pid = strtol(e->d_name + 9, &end, 10);
		if ((*end && strcmp(end, MADE_SUFFIX)) || pid <= 0 ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		if (*end)
			remove_made(path);
		else
			vm_snapshot_remove(path);
	}
	if (d)
		closedir(d);
}

/* Note an image before making it, so that if this receiver is killed
 * the next one removes it. */
static int note_made(const char *list, const char *image, struct error *err)
{
	int fd = open(list, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return err_sys(err, "%s", list);
	if (dprintf(fd, "%s\n", image) < 0)
		r = err_sys(err, "%s", list);
	close(fd);
	return r;
}

/* A receive in progress: the guest's definition and its supervisor,
 * started once the definition, origin and RAM size are in; the images it
 * is to use (on shared storage: the source's; copied: made here). */
struct receiving {
	int fd;                         /* the stream: acks go back on it */
	const char *dir;
	const char *disk_dir;           /* --dir, absolute; NULL: no copies */
	char made_list[PATH_MAX + 40];  /* dir MADE_SUFFIX */
	struct guest_config cfg;
	bool have_cfg;
	struct supervisor_pending sv;
	bool have_sv;
	char *disk_path[MIG_MAX_DISKS];
	bool disk_made[MIG_MAX_DISKS];  /* created here: removed on failure */
};

/* The definition, as the source's directory reads it: once. */
static int load_definition(struct receiving *rc, const struct mig_rx_stats *st,
			   struct error *err)
{
	char path[PATH_MAX + 16];

	if (rc->have_cfg)
		return 0;
	snprintf(path, sizeof(path), "%s/" SNAPSHOT_CONFIG, rc->dir);
	if (config_load_as(path, st->config_dir, st->name, &rc->cfg, err) < 0)
		return -1;
	rc->have_cfg = true;
	if (rc->cfg.kind != GUEST_VM)
		return err_input(err, "%s: not a VM's definition", path);
	return 0;
}

/* mig_rx_hooks.disk: the source's image (shared storage), or a new one
 * under --dir named as the source's. */
static int receive_disk(void *opaque, const struct mig_rx_stats *st,
			const struct mig_disk *d, int *fd, struct error *err)
{
	struct receiving *rc = opaque;
	char path[PATH_MAX];
	const char *file;
	int n;

	*fd = -1;
	if (load_definition(rc, st, err) < 0)
		return -1;
	if (d->index >= rc->cfg.vm.ndisks)
		return err_input(err, "migration stream: disk %u, but the "
				 "definition has %zu", d->index, rc->cfg.vm.ndisks);
	if (!d->copied) {
		if (d->path[0] != '/')
			return err_input(err, "migration stream: disk %u: '%s' "
					 "is not an absolute path", d->index,
					 d->path);
		rc->disk_path[d->index] = strdup(d->path);
		return rc->disk_path[d->index] ? 0 : err_set(err, "out of memory");
	}
	if (!rc->disk_dir)
		return err_input(err, "the source copies its disks (migrate "
				 "--with-disks): say where they go with vessel "
				 "receive --dir DIR");
	file = strrchr(rc->cfg.vm.disks[d->index].path, '/');
	file = file ? file + 1 : rc->cfg.vm.disks[d->index].path;
	n = snprintf(path, sizeof(path), "%s/%s", rc->disk_dir, file);
	if (n < 0 || (size_t)n >= sizeof(path) || !*file)
		return err_input(err, "disk %u: no file name under %s", d->index,
				 rc->disk_dir);
	if (note_made(rc->made_list, path, err) < 0)
		return -1;
	*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd < 0 && errno == EEXIST)
		return err_input(err, "disk %u: %s exists already: not "
				 "overwritten (give vessel receive another --dir)",
				 d->index, path);
	if (*fd < 0)
		return err_sys(err, "disk %u: %s", d->index, path);
	rc->disk_made[d->index] = true;
	rc->disk_path[d->index] = strdup(path);
	if (!rc->disk_path[d->index])
		return err_set(err, "out of memory");
	if (ftruncate(*fd, (off_t)d->size) < 0)
		return err_sys(err, "disk %u: %s: cannot size it", d->index, path);
	return 0;
}

/* mig_rx_hooks.synced: the source waits until everything it sent is in. */
static int receive_synced(void *opaque, uint64_t token, struct error *err)
{
	struct receiving *rc = opaque;

	return mig_send_ack(rc->fd, token, err);
}

/* mig_rx_hooks.prepared: the definition, with the images the stream
 * named, and a supervisor making the VM while the pages arrive. */
static int prepare_guest(void *opaque, const struct mig_rx_stats *st,
			 struct error *err)
{
	struct receiving *rc = opaque;

	if (load_definition(rc, st, err) < 0)
		return -1;
	rc->cfg.vm.name = rc->cfg.name;
	if (rc->cfg.vm.memory != st->ram_size)
		return err_input(err, "migration stream: %llu bytes of RAM, the "
				 "definition says %llu",
				 (unsigned long long)st->ram_size,
				 (unsigned long long)rc->cfg.vm.memory);
	if (rc->cfg.vm.ndisks != st->ndisks)
		return err_input(err, "migration stream: %u disks, the "
				 "definition has %zu", st->ndisks,
				 rc->cfg.vm.ndisks);
	for (size_t i = 0; i < rc->cfg.vm.ndisks; i++) {
		char *path = strdup(rc->disk_path[i]);

		if (!path)
			return err_set(err, "out of memory");
		free(rc->cfg.vm.disks[i].path);
		rc->cfg.vm.disks[i].path = path;
	}
	if (guest_running(rc->cfg.name))
		return err_input(err, "%s is already running here", rc->cfg.name);
	if (supervisor_prepare_received(&rc->cfg, rc->dir, &rc->sv, err) < 0)
		return err_prefix(err, "%s", rc->cfg.name);
	rc->have_sv = true;
	return 0;
}

/* Receive into dir; the guest's supervisor, started midway, runs it. */
static int receive_into(int fd, const char *dir, const char *disk_dir,
			const char *peer, struct error *err)
{
	struct receiving rc = { .fd = fd, .dir = dir, .disk_dir = disk_dir };
	const struct mig_rx_hooks hooks = {
		.prepared = prepare_guest, .disk = receive_disk,
		.synced = receive_synced, .opaque = &rc,
	};
	struct mig_rx_stats st;
	long long t_end;
	pid_t pid;
	int r;

	snprintf(rc.made_list, sizeof(rc.made_list), "%s" MADE_SUFFIX, dir);
	r = mig_receive(fd, dir, &st, &hooks, err);
	t_end = now_ms();
	if (r == 0 && !rc.have_sv)
		r = err_set(err, "migration stream: it ended before the guest "
			    "was prepared");
	if (r == 0) {
		/* The images are the guest's from here on: if this receiver
		 * is killed now they stay (a leak rather than a loss). */
		unlink(rc.made_list);
		rc.have_sv = false;
		r = supervisor_go(&rc.sv, &pid, err);
		if (r < 0)
			err_prefix(err, "%s", rc.cfg.name);
		else
			printf("%s: received from %s (%.1f MiB of memory in "
			       "%llu frames, %.1f MiB of disks); running %lld ms "
			       "after the last frame (supervisor pid %d; at "
			       "%lld us of the wall clock)\n",
			       rc.cfg.name, peer, st.page_bytes / 1048576.0,
			       (unsigned long long)st.frames,
			       st.disk_bytes / 1048576.0, now_ms() - t_end,
			       (int)pid, wall_us());
	}
	if (rc.have_sv)
		supervisor_abandon(&rc.sv);
	for (unsigned i = 0; i < MIG_MAX_DISKS; i++) {
		if (r < 0 && rc.disk_made[i] && rc.disk_path[i])
			unlink(rc.disk_path[i]);
		free(rc.disk_path[i]);
	}
	if (r < 0)
		unlink(rc.made_list);
	if (rc.have_cfg)
		config_free(&rc.cfg);
	return r;
}

int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "listen", required_argument, NULL, 'l' },
		{ "dir", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_at = NULL, *base = NULL;
	char run[PATH_MAX], dir[PATH_MAX + 32], peer[64], disk_dir[PATH_MAX];
	struct timeval idle = { STREAM_IDLE_S, 0 };
	double timeout = RECEIVE_TIMEOUT_S;
	struct error err;
	int c, lfd, fd, r;

	err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage_receive(stdout);
			return 0;
		case 'l':
			listen_at = optarg;
			break;
		case 'd':
			base = optarg;
			break;
		case 't':
			if (schema_parse_seconds(optarg, &timeout) < 0 ||
			    timeout < 0 || timeout > 86400 * 7) {
				fprintf(stderr, "vessel: --timeout '%s': expected "
					"a time such as 90s or 10m\n", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			usage_receive(stderr);
			return EXIT_USAGE;
		}
	}
	if (!listen_at || optind != argc) {
		usage_receive(stderr);
		return EXIT_USAGE;
	}
	if (base) {
		/* Absolute: the supervisor works from /. */
		if (!realpath(base, disk_dir)) {
			fprintf(stderr, "vessel: --dir %s: %s\n", base,
				strerror(errno));
			return EXIT_USAGE;
		}
		base = disk_dir;
	} else {
		if (state_run_dir(run, sizeof(run), &err) < 0) {
			fprintf(stderr, "vessel: %s\n", err.msg);
			return EXIT_HOST;
		}
		base = run;
	}
	snprintf(dir, sizeof(dir), "%s/incoming.%d", base, (int)getpid());
	lfd = tcp_listen(listen_at, &err);
	if (lfd < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return err.input ? EXIT_USAGE : EXIT_HOST;
	}
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "vessel: waiting for a migration on %s\n", listen_at);
	fd = tcp_accept(lfd, (int)(timeout * 1000), peer, sizeof(peer), &err);
	close(lfd);
	if (fd < 0) {
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_HOST;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	remove_stale(base);
	if (mkdir(dir, 0700) < 0) {
		err_sys(&err, "%s", dir);
		mig_send_reply(fd, false, err.msg);
		close(fd);
		fprintf(stderr, "vessel: %s\n", err.msg);
		return EXIT_HOST;
	}
	r = receive_into(fd, dir, base == disk_dir ? disk_dir : NULL, peer, &err);
	if (r < 0) {
		vm_snapshot_remove(dir);
		mig_send_reply(fd, false, err.msg);
		fprintf(stderr, "vessel: migration from %s failed: %s\n", peer,
			err.msg);
	} else {
		mig_send_reply(fd, true, "running");
	}
	/* Closing with unread bytes would reset the connection and could
	 * lose the answer: end our side, and read (briefly) what is left. */
	shutdown(fd, SHUT_WR);
	{
		struct timeval brief = { 2, 0 };
		char sink[65536];
		long long end = now_ms() + 2000;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof(brief));
		while (now_ms() < end && read(fd, sink, sizeof(sink)) > 0)
			;
	}
	close(fd);
	return r < 0 ? EXIT_HOST : 0;
}
