#include "ct_state.h"
#include "cgroup.h"
#include "ct.h"
#include "freezer.h"
#include "oci_json.h"
#include "oci_hooks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_ID 1024
#define MAX_STATE (1 << 20)
#define OCI_VERSION "1.0.2"

int ct_id_check(const char *id, struct error *err)
{
	size_t i, n = strlen(id);

	if (!n || n > MAX_ID || !strcmp(id, ".") || !strcmp(id, ".."))
		return err_input(err, "'%.64s' is not a container id", id);
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') ||
		      strchr("_.+-", id[i])))
			return err_input(err, "container id '%.64s': only "
					 "letters, digits and _ . + - are "
					 "allowed", id);
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static int lock_dir(const char *dir, struct error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_sys(err, "%s", dir);
	if (flock(fd, LOCK_EX) < 0) {
		err_sys(err, "locking %s", dir);
		close(fd);
		return -1;
	}
	return fd;
}

static void now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	/* Not strftime: it loads the local time zone (/etc/localtime),
	 * which UTC does not need. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

/* Field 22 of /proc/PID/stat, and the state letter (field 3). */
static unsigned long long proc_starttime(pid_t pid, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd, i;

	*state = '?';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	*state = p[2];
	p += 2;
	/* p is at field 3; skip to field 22. */
	for (i = 3; i < 22 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		st = strtoull(p, NULL, 10);
	return st;
}

/* The state root and its parents (0700 where made). */
static int mkdir_p(const char *dir, struct error *err)
{
	char path[4096], *p;

	if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path))
		return err_input(err, "--root: path too long");
	for (p = path + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return err_sys(err, "creating the state directory %s",
				       path);
		if (!c)
			return 0;
		*p = c;
	}
}

int ct_state_prepare(struct ct *ct, const struct ct_create_opts *o,
		     struct error *err)
{
	char *fifo;

	if (ct_id_check(ct->name, err) < 0)
		return -1;
	if (mkdir_p(o->state_root, err) < 0)
		return -1;
	ct->state_dir = join(o->state_root, ct->name);
	if (!ct->state_dir)
		return err_set(err, "out of memory");
	if (mkdir(ct->state_dir, 0700) < 0) {
		int e = errno;

		free(ct->state_dir);
		ct->state_dir = NULL;	/* not ours to remove */
		errno = e;
		if (e == EEXIST)
			return err_input(err, "container %s exists already",
					 ct->name);
		return err_sys(err, "creating %s/%s", o->state_root, ct->name);
	}
	ct->lock_fd = lock_dir(ct->state_dir, err);
	if (ct->lock_fd < 0)
		return -1;
	if (o->bundle && !(ct->bundle = strdup(o->bundle)))
		return err_set(err, "out of memory");
	if (o->annotations && !(ct->annotations = strdup(o->annotations)))
		return err_set(err, "out of memory");
	fifo = join(ct->state_dir, "exec.fifo");
	if (!fifo)
		return err_set(err, "out of memory");
	if (mkfifo(fifo, 0600) < 0) {
		err_sys(err, "creating %s", fifo);
		free(fifo);
		return -1;
	}
	ct->fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
	free(fifo);
	if (ct->fifo_fd < 0)
		return err_sys(err, "opening the exec fifo");
	/* The child opens it through /proc/self/fd: not close-on-exec
	 * matters not, it is O_PATH and closed before exec. */
	return 0;
}

static json_object *cgroup_json(const struct ct *ct)
{
	json_object *o = json_object_new_object(), *a;
	const char *const *dirs;
	size_t i, n = 0;

	a = json_object_new_array();
	if (ct->cg)
		n = cgroup_dirs(ct->cg, &dirs);
	for (i = 0; i < n; i++)
		if (dirs[i])
			json_object_array_add(a, json_object_new_string(dirs[i]));
	json_object_object_add(o, "v2", json_object_new_boolean(
				       ct->cg && cgroup_is_v2(ct->cg)));
	json_object_object_add(o, "unified", json_object_new_string(
				       ct->cg && cgroup_unified_dir(ct->cg) ?
				       cgroup_unified_dir(ct->cg) : ""));
	json_object_object_add(o, "dirs", a);
	return o;
}

int ct_state_save(struct ct *ct, struct error *err)
{
	char created[64], *path, *tmp;
	json_object *o;
	const char *text;
	char state;
	int fd, r = 0;
	size_t len;

	now_rfc3339(created, sizeof(created));
	free(ct->created);
	ct->created = strdup(created);
	ct->starttime = proc_starttime(ct->pid, &state);
	o = json_object_new_object();
	json_object_object_add(o, "ociVersion",
			       json_object_new_string(OCI_VERSION));
	json_object_object_add(o, "id", json_object_new_string(ct->name));
	json_object_object_add(o, "pid", json_object_new_int(ct->pid));
	json_object_object_add(o, "starttime",
			       json_object_new_uint64(ct->starttime));
	json_object_object_add(o, "bundle", json_object_new_string(
				       ct->bundle ? ct->bundle : ""));
	json_object_object_add(o, "rootfs", json_object_new_string(
				       ct->rootfs ? ct->rootfs : ""));
	json_object_object_add(o, "created", json_object_new_string(created));
	json_object_object_add(o, "annotations", ct->annotations ?
			       json_tokener_parse(ct->annotations) :
			       json_object_new_object());
	json_object_object_add(o, "cgroup", cgroup_json(ct));
	json_object_object_add(o, "lateHooks", json_object_new_boolean(
				       ct->spec && ct->spec->hooks &&
				       (ct->spec->hooks->n[HOOK_POSTSTART] ||
					ct->spec->hooks->n[HOOK_POSTSTOP])));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	path = join(ct->state_dir, "state.json");
	tmp = join(ct->state_dir, "state.json.tmp");
	if (!path || !tmp) {
		r = err_set(err, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	len = strlen(text);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) < 0 || rename(tmp, path) < 0)
		r = err_sys(err, "writing %s", path);
	if (fd >= 0)
		close(fd);
out:
	free(path);
	free(tmp);
	json_object_put(o);
	return r;
}

void ct_state_remove(struct ct *ct)
{
	static const char *const files[] = { "state.json", "state.json.tmp",
					     "exec.fifo" };
	size_t i;
	char *p;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		p = join(ct->state_dir, files[i]);
		if (p)
			unlink(p);
		free(p);
	}
	rmdir(ct->state_dir);
}

static bool under_cgroupfs(const char *dir)
{
	return !strncmp(dir, "/sys/fs/cgroup/", 15) && !strstr(dir, "/../") &&
	       !strstr(dir, "/./");
}

static int load_cgroup(struct ct *ct, json_object *cg, struct error *err)
{
	char *dirs[8] = { 0 }, *unified = NULL;
	bool v2 = false;
	int uidx = -1, r = -1;
	size_t n = 0, i;
	char **v = NULL;

	if (oj_bool(oj_get(cg, "v2"), "state: cgroup.v2", &v2, err) < 0 ||
	    oj_string(oj_get(cg, "unified"), "state: cgroup.unified",
		      &unified, err) < 0 ||
	    oj_strv(oj_get(cg, "dirs"), "state: cgroup.dirs", &v, &n,
		    err) < 0)
		goto out;
	if (n > 8) {
		err_input(err, "state: too many cgroup directories");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!under_cgroupfs(v[i])) {
			err_input(err, "state: cgroup directory '%.200s' is "
				  "not under /sys/fs/cgroup", v[i]);
			goto out;
		}
		dirs[i] = v[i];
		if (unified && !strcmp(unified, v[i]))
			uidx = (int)i;
	}
	r = n ? cgroup_from_dirs(dirs, n, v2, uidx, &ct->cg, err) : 0;
out:
	oj_strv_free(v, n);
	free(unified);
	return r;
}

static int load_json(struct ct *ct, json_object *o, struct error *err)
{
	json_object *ann, *late = oj_get(o, "lateHooks");
	bool late_hooks = true;
	int64_t pid = 0;
	uint64_t st = 0;
	char *id = NULL;

	if (oj_object(o, "state", err) < 0 || !o ||
	    oj_string(oj_get(o, "id"), "state: id", &id, err) < 0 ||
	    oj_i64(oj_get(o, "pid"), "state: pid", 0, INT32_MAX, &pid,
		   err) < 0 ||
	    oj_u64(oj_get(o, "starttime"), "state: starttime", UINT64_MAX,
		   &st, err) < 0 ||
	    oj_string(oj_get(o, "bundle"), "state: bundle", &ct->bundle,
		      err) < 0 ||
	    oj_string(oj_get(o, "rootfs"), "state: rootfs", &ct->rootfs_buf,
		      err) < 0 ||
	    oj_string(oj_get(o, "created"), "state: created", &ct->created,
		      err) < 0 ||
	    oj_bool(late, "state: lateHooks", &late_hooks, err) < 0 ||
	    load_cgroup(ct, oj_get(o, "cgroup"), err) < 0) {
		free(id);
		return o ? -1 : err_input(err, "state: not an object");
	}
	if (!id || strcmp(id, ct->name)) {
		free(id);
		return err_input(err, "state: the id does not match");
	}
	free(id);
	ann = oj_get(o, "annotations");
	if (ann)
		ct->annotations = strdup(json_object_to_json_string_ext(
						 ann, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	ct->pid = (pid_t)pid;
	ct->starttime = st;
	ct->late_hooks = late ? late_hooks : -1;
	ct->rootfs = ct->rootfs_buf;
	return 0;
}

int container_load(const char *root, const char *id, struct ct **out,
		   struct error *err)
{
	struct ct *ct;
	json_object *o;
	char *path, *text = NULL;
	int r;

	*out = NULL;
	if (ct_id_check(id, err) < 0)
		return -1;
	ct = ct_alloc();
	if (!ct)
		return err_set(err, "out of memory");
	ct->id_buf = strdup(id);
	ct->name = ct->id_buf;
	ct->state_dir = join(root, id);
	ct->detached = true;
	if (!ct->id_buf || !ct->state_dir) {
		container_release(ct);
		return err_set(err, "out of memory");
	}
	if (access(ct->state_dir, F_OK) < 0) {
		container_release(ct);
		return err_input(err, "container %s does not exist", id);
	}
	ct->lock_fd = lock_dir(ct->state_dir, err);
	path = join(ct->state_dir, "state.json");
	r = ct->lock_fd < 0 || !path ? -1 : oj_read_file(path, MAX_STATE, &text, NULL, err);
	free(path);
	if (r < 0) {
		container_release(ct);
		return -1;
	}
	o = json_tokener_parse(text);
	free(text);
	if (!o) {
		container_release(ct);
		return err_input(err, "container %s: state.json is not JSON",
				 id);
	}
	r = load_json(ct, o, err);
	json_object_put(o);
	if (r < 0) {
		container_release(ct);
		return err_prefix(err, "container %s", id);
	}
	if (ct->pid > 0 && container_status(ct) != CT_STOPPED)
		ct->pidfd = syscall(SYS_pidfd_open, ct->pid, 0);
	*out = ct;
	return 0;
}

enum ct_status container_status(struct ct *ct)
{
	char state, *fifo;
	const char *v2;
	bool created;

	if (ct->pid <= 0)
		return CT_STOPPED;
	if (!ct->state_dir)
		return ct->started ? CT_RUNNING : CT_CREATED;
	if (proc_starttime(ct->pid, &state) != ct->starttime ||
	    state == 'Z' || state == 'X' || state == '?')
		return CT_STOPPED;
	fifo = join(ct->state_dir, "exec.fifo");
	created = fifo && access(fifo, F_OK) == 0;
	free(fifo);
	if (created)
		return CT_CREATED;
	v2 = ct->cg && cgroup_is_v2(ct->cg) ? cgroup_unified_dir(ct->cg) :
	     NULL;
	if (freezer_frozen(ct->name, v2))
		return CT_PAUSED;
	return CT_RUNNING;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ct_state_list(const char *root, char ***ids, size_t *n,
		  struct error *err)
{
	char **v = NULL, **nv, *p;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	struct error ignored;
	DIR *d;

	*ids = NULL;
	*n = 0;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : err_sys(err, "%s", root);
	while ((de = readdir(d))) {
		if (ct_id_check(de->d_name, &ignored) < 0)
			continue;
		p = NULL;
		if (asprintf(&p, "%s/%s/state.json", root, de->d_name) < 0)
			break;
		if (access(p, F_OK) < 0) {
			free(p);
			continue;
		}
		free(p);
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt])
			cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp);
	*ids = v;
	*n = cnt;
	return 0;
}

static json_object *state_oci(struct ct *ct, const char *status)
{
	enum ct_status st = status ? CT_RUNNING : container_status(ct);
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ociVersion",
			       json_object_new_string(OCI_VERSION));
	json_object_object_add(o, "id", json_object_new_string(ct->name));
	json_object_object_add(o, "pid", json_object_new_int(
				       st == CT_STOPPED ? 0 : ct->pid));
	json_object_object_add(o, "status", json_object_new_string(
				       status ? status : container_status_name(st)));
	json_object_object_add(o, "bundle", json_object_new_string(
				       ct->bundle ? ct->bundle : ""));
	json_object_object_add(o, "rootfs", json_object_new_string(
				       ct->rootfs ? ct->rootfs : ""));
	json_object_object_add(o, "created", json_object_new_string(
				       ct->created ? ct->created : ""));
	json_object_object_add(o, "owner", json_object_new_string(""));
	json_object_object_add(o, "annotations", ct->annotations ?
			       json_tokener_parse(ct->annotations) :
			       json_object_new_object());
	return o;
}

json_object *ct_state_oci(struct ct *ct)
{
	return state_oci(ct, NULL);
}

char *ct_state_oci_text(struct ct *ct, const char *status)
{
	json_object *o = state_oci(ct, status);
	char *s = strdup(json_object_to_json_string_ext(
				 o, JSON_C_TO_STRING_PLAIN |
				 JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return s;
}
