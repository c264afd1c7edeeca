/* vessel backup NAME|FILE REPO, and backup list | restore | verify |
 * prune: the CLI of the backup repository (tools/backup/, README.md
 * "Backups"). */
#include "manage.h"
#include "config.h"
#include "control.h"
#include "exit_codes.h"
#include "backup_live.h"
#include "backup/backup.h"
#include "backup/catalog.h"
#include "backup/progress.h"
#include "backup/prune.h"
#include "backup/restore.h"
#include "backup/verify.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void usage_backup(FILE *out)
{
	fprintf(out,
		"usage: vessel backup [--json] [--progress] NAME|FILE REPO\n"
		"       vessel backup list [--json] REPO [NAME]\n"
		"       vessel backup restore [--force] [--progress] REPO ID --to DIR\n"
		"       vessel backup verify REPO [ID]\n"
		"       vessel backup prune [--dry-run] --keep-last N --keep-daily N REPO\n"
		"\n"
		"Back up a guest into the repository REPO (a directory, made a\n"
		"repository if it does not exist or is empty): a VM's disk\n"
		"images, or a container's rootfs directory (a running container is\n"
		"frozen while its tree is read; the freeze is reported). NAME is a\n"
		"started guest, FILE a definition. Every backup is complete on its\n"
		"own, and stores only chunks the repository does not have yet.\n"
		"A running VM is backed up by its supervisor while it runs on: its\n"
		"disks are read as they were when the backup began (a guest write\n"
		"to a part not read yet first saves the old data for the backup);\n"
		"if the guest stops, crashes or reboots meanwhile, the backup fails\n"
		"and nothing is recorded (the changes it would have covered count\n"
		"for the next one).\n"
		"A VM's disk is read only where its dirty bitmap marks changes\n"
		"since the guest's last backup in REPO (a running VM's marks in its\n"
		"memory, a stopped VM's in IMAGE.vbitmap, kept across clean stops);\n"
		"otherwise in full, and the summary says why.\n"
		"\n"
		"`vessel backup SUBCOMMAND --help` describes a subcommand.\n"
		"\n"
		"options:\n"
		"  --json         print the finished backup as JSON\n"
		"  --progress     a progress line on stderr (default: if a terminal)\n"
		"  -h, --help     this help\n"
		"\n"
		"exit status: 0 done; 1 a host-side failure (no space left, I/O);\n"
		"2 a usage error, not a repository, an unknown guest or backup id.\n");
}

static void usage_list(FILE *out)
{
	fprintf(out,
		"usage: vessel backup list [--json] REPO [NAME]\n"
		"\n"
		"List the backups in REPO (of guest NAME): id, kind, time (UTC),\n"
		"logical size, data newly stored by it, duration.\n");
}

static void usage_brestore(FILE *out)
{
	fprintf(out,
		"usage: vessel backup restore [--force] [--progress] REPO ID --to DIR\n"
		"\n"
		"Write backup ID into DIR (made if missing): its definition as\n"
		"DIR/definition.yaml, each disk image under its file name, a\n"
		"container's tree as DIR/rootfs. Nothing existing is replaced\n"
		"unless --force. Every chunk is checked: a damaged one stops the\n"
		"restore, and what it wrote is removed. Device nodes in a tree are\n"
		"never made (as for tarball images).\n");
}

static void usage_verify(FILE *out)
{
	fprintf(out,
		"usage: vessel backup verify REPO [ID]\n"
		"\n"
		"Read every chunk of backup ID (without ID: every chunk in REPO)\n"
		"and recompute its CRC and SHA-256; check every index against its\n"
		"manifest. Prints each damaged chunk with the backups it breaks.\n"
		"exit status: 0 clean; 1 damage found; 2 not a repository, bad ID.\n");
}

static void usage_prune(FILE *out)
{
	fprintf(out,
		"usage: vessel backup prune [--dry-run] [--keep-last N] [--keep-daily N] REPO\n"
		"\n"
		"For each guest, keep its N newest backups (--keep-last), and the\n"
		"newest of each of the N most recent days (UTC) not covered by those\n"
		"(--keep-daily); remove the rest. Then remove the chunks no backup\n"
		"uses, unfinished backups and leftover temporary files. It waits\n"
		"for running backups to finish; new ones wait for it.\n"
		"  --dry-run      print what would go, change nothing\n");
}

static int fail(const char *verb, struct error *err)
{
	fprintf(stderr, "vessel backup%s%s: %s\n", verb ? " " : "",
		verb ? verb : "", err->msg);
	return err->input ? EXIT_USAGE : EXIT_HOST;
}

/* ---- taking a backup ------------------------------------------------- */

struct target {
	struct guest_config cfg;
	bool loaded, live, paused;
	char def[4096];
};

static int ps_of(const char *name, struct json_object **reply,
		 struct error *err)
{
	struct json_object *req = control_request("ps");
	int fd = guest_connect(name, err), r;

	if (fd < 0) {
		json_object_put(req);
		return -1;
	}
	r = control_call(fd, req, reply, CONTROL_TIMEOUT_MS, err);
	json_object_put(req);
	close(fd);
	return r;
}

static int resolve(const char *arg, struct target *t, struct error *err)
{
	struct json_object *reply = NULL;
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (strchr(arg, '/') || (stat(arg, &st) == 0 && S_ISREG(st.st_mode))) {
		snprintf(t->def, sizeof(t->def), "%s", arg);
		if (config_load(arg, &t->cfg, err) < 0)
			return err->input = 1, -1;
		t->loaded = true;
		t->live = guest_running(t->cfg.name);
	} else {
		if (!guest_running(arg))
			return err_input(err, "%s is not a started guest (give its "
					 "definition FILE instead)", arg);
		t->live = true;
		if (ps_of(arg, &reply, err) < 0)
			return -1;
		snprintf(t->def, sizeof(t->def), "%s",
			 control_str(reply, "definition") ?: "");
		json_object_put(reply);
		reply = NULL;
		if (config_load(t->def, &t->cfg, err) < 0)
			return err_prefix(err, "%s's definition", arg);
		t->loaded = true;
	}
	if (t->live && ps_of(t->cfg.name, &reply, err) == 0) {
		const char *s = control_str(reply, "state");

		t->paused = s && !strcmp(s, "paused");
		json_object_put(reply);
	}
	return 0;
}

/* "pause" or "resume" NAME through its supervisor (its freezer cgroup). */
static int ct_op(const char *name, const char *op, struct error *err)
{
	struct json_object *req = control_request(op);
	int fd = guest_connect(name, err), r = -1;

	if (fd >= 0) {
		r = control_call(fd, req, NULL, CONTROL_TIMEOUT_MS * 2, err);
		close(fd);
	}
	json_object_put(req);
	return r < 0 ? err_prefix(err, "%s %s", op, name) : 0;
}

static int ct_freeze(void *opaque, struct error *err)
{
	return ct_op(opaque, "pause", err);
}

static int ct_thaw(void *opaque, struct error *err)
{
	return ct_op(opaque, "resume", err);
}

static struct json_object *summary_json(const struct manifest *m)
{
	struct json_object *o = json_object_new_object(), *disks;
	char when[32];
	time_t t = (time_t)m->started;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	json_object_object_add(o, "id", json_object_new_string(m->id));
	json_object_object_add(o, "guest", json_object_new_string(m->guest));
	json_object_object_add(o, "kind", json_object_new_string(m->kind));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "bytes_logical", json_object_new_int64((int64_t)m->bytes_logical));
	json_object_object_add(o, "bytes_read", json_object_new_int64((int64_t)m->bytes_read));
	json_object_object_add(o, "bytes_new", json_object_new_int64((int64_t)m->bytes_new));
	json_object_object_add(o, "chunks", json_object_new_int64((int64_t)m->chunks));
	json_object_object_add(o, "chunks_new", json_object_new_int64((int64_t)m->chunks_new));
	json_object_object_add(o, "duration_ms", json_object_new_int64(m->duration_ms));
	json_object_object_add(o, "freeze_ms", json_object_new_int64(m->freeze_ms));
	disks = json_object_new_array();
	for (size_t i = 0; i < m->nitems; i++) {
		const struct manifest_item *it = &m->item[i];
		struct json_object *d;

		if (it->type != ITEM_DISK)
			continue;
		d = json_object_new_object();
		json_object_object_add(d, "name", json_object_new_string(it->name));
		json_object_object_add(d, "source", json_object_new_string(it->source));
		json_object_object_add(d, "size", json_object_new_int64((int64_t)it->size));
		json_object_object_add(d, "bytes_read", json_object_new_int64((int64_t)it->bytes_read));
		json_object_object_add(d, "incremental", json_object_new_boolean(it->incremental));
		if (!it->incremental)
			json_object_object_add(d, "full_reason",
					       json_object_new_string(it->full_reason));
		json_object_array_add(disks, d);
	}
	json_object_object_add(o, "disks", disks);
	return o;
}

static void live_json(struct json_object *o, const struct live_stats *st)
{
	json_object_object_add(o, "live", json_object_new_boolean(1));
	json_object_object_add(o, "cbw_chunks", json_object_new_int64((int64_t)st->copies));
	json_object_object_add(o, "cbw_bytes", json_object_new_int64((int64_t)st->copied));
	json_object_object_add(o, "cbw_waits", json_object_new_int64((int64_t)st->waits));
}

static int take(const char *target, const char *repo_path, bool json,
		bool progress)
{
	struct backup_source src[MANIFEST_ITEMS];
	struct backup_req req = { .progress = progress };
	struct error err = { 0 };
	struct manifest m = { 0 };
	struct live_stats live = { 0 };
	struct target t;
	struct repo r;
	int rc = -1;
	char a[32], b[32], c[32];

	if (resolve(target, &t, &err) < 0)
		return fail(NULL, &err);
	req.guest = t.cfg.name;
	req.definition_path = t.def;
	req.src = src;
	if (t.cfg.kind == GUEST_VM) {
		req.kind = "vm";
		if (t.cfg.vm.ndisks == 0 || t.cfg.vm.ndisks > MANIFEST_ITEMS) {
			err_input(&err, "%s has %zu disks: nothing to back up (or "
				  "more than %d)", t.cfg.name, t.cfg.vm.ndisks,
				  MANIFEST_ITEMS);
			goto out;
		}
		for (size_t i = 0; i < t.cfg.vm.ndisks; i++)
			src[i] = (struct backup_source){ .type = ITEM_DISK,
							 .path = t.cfg.vm.disks[i].path };
		req.nsrc = t.cfg.vm.ndisks;
	} else {
		req.kind = "container";
		src[0] = (struct backup_source){ .type = ITEM_TREE,
						 .path = t.cfg.ct.rootfs };
		req.nsrc = 1;
		if (t.live && !t.paused) {
			req.freeze = ct_freeze;
			req.thaw = ct_thaw;
			req.opaque = t.cfg.name;
		}
	}
	if (repo_open(&r, repo_path, REPO_CREATE, &err) < 0 ||
	    repo_lock(&r, false, &err) < 0) {
		repo_close(&r);
		goto out;
	}
	/* A running VM: its supervisor reads the disks (backup_live.h). */
	rc = t.live && t.cfg.kind == GUEST_VM ?
	     live_backup_request(t.cfg.name, &r, progress, &m, &live, &err) :
	     backup_take(&r, &req, &m, &err);
	repo_close(&r);
	if (rc < 0)
		goto out;
	if (json) {
		struct json_object *o = summary_json(&m);

		if (t.live && t.cfg.kind == GUEST_VM)
			live_json(o, &live);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("backup %s: %s, read %s, stored %s new (%llu of %llu chunks "
		       "new) in %.1f s", m.id, human_bytes(m.bytes_logical, a, sizeof(a)),
		       human_bytes(m.bytes_read, b, sizeof(b)),
		       human_bytes(m.bytes_new, c, sizeof(c)),
		       (unsigned long long)m.chunks_new, (unsigned long long)m.chunks,
		       m.duration_ms / 1000.0);
		if (m.freeze_ms >= 0)
			printf("; %s frozen for %lld ms while its tree was read",
			       m.guest, (long long)m.freeze_ms);
		else if (t.paused)
			printf("; %s was paused already", m.guest);
		if (t.live && t.cfg.kind == GUEST_VM)
			printf("; live, as of its start (%llu chunks, %s, saved "
			       "before the guest overwrote them)",
			       (unsigned long long)live.copies,
			       human_bytes(live.copied, a, sizeof(a)));
		printf("\n");
		for (size_t i = 0; i < m.nitems; i++) {
			const struct manifest_item *it = &m.item[i];

			if (it->type != ITEM_DISK)
				continue;
			printf("  %s %s: read %s of %s, ", it->name, it->source,
			       human_bytes(it->bytes_read, a, sizeof(a)),
			       human_bytes(it->size, b, sizeof(b)));
			if (it->incremental)
				printf("incremental (its dirty bitmap)\n");
			else
				printf("full read: %s\n", it->full_reason);
		}
	}
	if (m.notes[0])
		fprintf(stderr, "vessel backup: warning: %s", m.notes);
out:
	manifest_free(&m);
	if (t.loaded)
		config_free(&t.cfg);
	return rc < 0 ? fail(NULL, &err) : 0;
}

/* ---- subcommands -------------------------------------------------------- */

static const struct option common_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, 'j' },
	{ "progress", no_argument, NULL, 'p' },
	{ "force", no_argument, NULL, 'f' },
	{ "to", required_argument, NULL, 't' },
	{ "keep-last", required_argument, NULL, 'L' },
	{ "keep-daily", required_argument, NULL, 'D' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	bool json, progress, force, dry;
	const char *to;
	long keep_last, keep_daily;
};

/* Parse the options allowed (a string of their short letters). */
static int parse(int argc, char **argv, const char *allowed,
		 void (*help)(FILE *), struct args *a)
{
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->progress = isatty(2);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", common_opts, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			return 1;
		}
		if (c == '?' || !strchr(allowed, c)) {
			if (c != '?')
				fprintf(stderr, "vessel backup %s: option not "
					"allowed here\n", argv[0]);
			help(stderr);
			return -1;
		}
		switch (c) {
		case 'j': a->json = true; break;
		case 'p': a->progress = true; break;
		case 'f': a->force = true; break;
		case 'n': a->dry = true; break;
		case 't': a->to = optarg; break;
		case 'L': case 'D': {
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 0 || v > 100000) {
				fprintf(stderr, "vessel backup %s: expected a count, "
					"not '%s'\n", argv[0], optarg);
				return -1;
			}
			*(c == 'L' ? &a->keep_last : &a->keep_daily) = v;
			break;
		}
		}
	}
	return 0;
}

static int open_repo(const char *path, bool lock, struct repo *r,
		     struct error *err)
{
	if (repo_open(r, path, REPO_EXISTING, err) < 0 ||
	    (lock && repo_lock(r, false, err) < 0)) {
		repo_close(r);
		return -1;
	}
	return 0;
}

static int sub_list(int argc, char **argv)
{
	struct error err = { 0 };
	struct catalog c;
	struct args a;
	struct repo r;
	int p = parse(argc, argv, "j", usage_list, &a);

	if (p)
		return p > 0 ? 0 : EXIT_USAGE;
	if (argc - optind < 1 || argc - optind > 2) {
		usage_list(stderr);
		return EXIT_USAGE;
	}
	if (open_repo(argv[optind], false, &r, &err) < 0)
		return fail("list", &err);
	if (argv[optind + 1] && !backup_name_ok(argv[optind + 1])) {
		repo_close(&r);
		err_input(&err, "'%s' is not a guest name", argv[optind + 1]);
		return fail("list", &err);
	}
	if (catalog_load(&r, argv[optind + 1], &c, &err) < 0) {
		repo_close(&r);
		return fail("list", &err);
	}
	if (a.json) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < c.n; i++)
			json_object_array_add(arr, summary_json(&c.m[i]));
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else {
		printf("%-40s %-9s %-20s %10s %10s %8s\n", "ID", "KIND", "TIME",
		       "SIZE", "NEW", "SECONDS");
		for (size_t i = 0; i < c.n; i++) {
			char when[32], s1[32], s2[32];
			time_t t = (time_t)c.m[i].started;

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
			printf("%-40s %-9s %-20s %10s %10s %8.1f\n", c.m[i].id,
			       c.m[i].kind, when,
			       human_bytes(c.m[i].bytes_logical, s1, sizeof(s1)),
			       human_bytes(c.m[i].bytes_new, s2, sizeof(s2)),
			       c.m[i].duration_ms / 1000.0);
		}
	}
	for (size_t i = 0; i < c.ndamaged; i++)
		fprintf(stderr, "vessel backup list: damaged: %s\n", c.damaged[i]);
	catalog_free(&c);
	repo_close(&r);
	return 0;
}

static int sub_restore(int argc, char **argv)
{
	struct restore_result res;
	struct error err = { 0 };
	struct args a;
	struct repo r;
	int p = parse(argc, argv, "fpt", usage_brestore, &a);
	char b1[32], b2[32];

	if (p)
		return p > 0 ? 0 : EXIT_USAGE;
	if (argc - optind != 2 || !a.to) {
		fprintf(stderr, "vessel backup restore: expected REPO ID --to DIR\n");
		usage_brestore(stderr);
		return EXIT_USAGE;
	}
	if (open_repo(argv[optind], true, &r, &err) < 0)
		return fail("restore", &err);
	p = backup_restore(&r, argv[optind + 1], a.to, a.force, a.progress, &res,
			   &err);
	repo_close(&r);
	if (p < 0)
		return fail("restore", &err);
	printf("restored %s into %s: %s in %.1f s (%s/s)\n", argv[optind + 1], a.to,
	       human_bytes(res.bytes, b1, sizeof(b1)), res.ms / 1000.0,
	       human_bytes(res.ms ? res.bytes * 1000 / (uint64_t)res.ms : res.bytes,
			   b2, sizeof(b2)));
	if (res.tree.devices_skipped)
		fprintf(stderr, "vessel backup restore: %llu device nodes not made"
			"%s%s\n", (unsigned long long)res.tree.devices_skipped,
			res.tree.first_device[0] ? ", among them " : "",
			res.tree.first_device);
	if (res.tree.xattrs_failed)
		fprintf(stderr, "vessel backup restore: %llu xattrs could not be "
			"set here\n", (unsigned long long)res.tree.xattrs_failed);
	return 0;
}

static int sub_verify(int argc, char **argv)
{
	struct verify_result res;
	struct error err = { 0 };
	struct args a;
	struct repo r;
	int p = parse(argc, argv, "", usage_verify, &a);
	char b1[32];

	if (p)
		return p > 0 ? 0 : EXIT_USAGE;
	if (argc - optind < 1 || argc - optind > 2) {
		usage_verify(stderr);
		return EXIT_USAGE;
	}
	if (open_repo(argv[optind], true, &r, &err) < 0)
		return fail("verify", &err);
	p = backup_verify(&r, argv[optind + 1], stdout, &res, &err);
	repo_close(&r);
	if (p < 0)
		return fail("verify", &err);
	printf("verified %llu backups, %llu chunks (%s): %llu damaged chunks, "
	       "%llu damaged backups\n", (unsigned long long)res.backups,
	       (unsigned long long)res.chunks, human_bytes(res.bytes, b1, sizeof(b1)),
	       (unsigned long long)res.damaged_chunks,
	       (unsigned long long)res.damaged_backups);
	return res.damaged_chunks || res.damaged_backups ? EXIT_HOST : 0;
}

static int sub_prune(int argc, char **argv)
{
	struct prune_result res;
	struct error err = { 0 };
	struct prune_opts o;
	struct args a;
	struct repo r;
	int p = parse(argc, argv, "LDn", usage_prune, &a);
	char b1[32];

	if (p)
		return p > 0 ? 0 : EXIT_USAGE;
	if (argc - optind != 1) {
		usage_prune(stderr);
		return EXIT_USAGE;
	}
	o = (struct prune_opts){ (unsigned)a.keep_last, (unsigned)a.keep_daily, a.dry };
	if (open_repo(argv[optind], false, &r, &err) < 0)
		return fail("prune", &err);
	p = backup_prune(&r, &o, stdout, &res, &err);
	repo_close(&r);
	if (p < 0)
		return fail("prune", &err);
	printf("%s%llu backups kept, %llu removed; %llu chunks (%s) freed, "
	       "%llu unfinished backups and %llu temporary files removed\n",
	       a.dry ? "dry run: " : "", (unsigned long long)res.kept,
	       (unsigned long long)res.removed,
	       (unsigned long long)res.chunks_removed,
	       human_bytes(res.bytes_freed, b1, sizeof(b1)),
	       (unsigned long long)res.unfinished, (unsigned long long)res.tmp);
	return 0;
}

int cmd_backup(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "list", sub_list }, { "restore", sub_restore },
		{ "verify", sub_verify }, { "prune", sub_prune },
	};
	struct args a;
	int p;

	if (argc >= 2)
		for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			if (!strcmp(argv[1], subs[i].name))
				return subs[i].fn(argc - 1, argv + 1);
	p = parse(argc, argv, "jp", usage_backup, &a);
	if (p)
		return p > 0 ? 0 : EXIT_USAGE;
	if (argc - optind != 2) {
		fprintf(stderr, "vessel backup: expected NAME|FILE REPO\n");
		usage_backup(stderr);
		return EXIT_USAGE;
	}
	return take(argv[optind], argv[optind + 1], a.json, a.progress);
}
