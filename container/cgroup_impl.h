/* Shared between cgroup.c, its two back ends (cgroup_v1.c, cgroup_v2.c)
 * and freezer.c. Not for use outside container/. */
#ifndef VESSEL_CGROUP_IMPL_H
#define VESSEL_CGROUP_IMPL_H

#include <stdbool.h>

#include "../tools/base/error.h"
#include "ct_config.h"

#define CG_MAX_DIRS 8
#define CG_PATH_MAX 4352	/* buffers for cgroup paths */
/* vessel's own parent of its containers' cgroups, under the mount (or
 * under the cgroup vessel runs in): shared, removed when it is empty. */
#define CG_VESSEL_DIR "vessel"

struct cgroup {
	bool v2;
	char *dirs[CG_MAX_DIRS];	/* created directories, one per
					 * hierarchy (v2: exactly one) */
	size_t ndirs;
	int unified;			/* index in dirs of the cgroup2 one
					 * (v2: 0), or -1 */
};

/* A cgroup or cgroup2 mount from /proc/self/mountinfo. */
struct cg_mount {
	char *dir;		/* mount point */
	char *root;		/* path of the mounted root in the hierarchy */
	char *opts;		/* super options: "rw,memory" */
	bool v2;
};

int cg_mounts(struct cg_mount **mounts, size_t *n, struct error *err);
void cg_mounts_free(struct cg_mount *mounts, size_t n);
/* Is word in the comma- or space-separated list? */
bool cg_list_has(const char *list, const char *word);

int cg_write(const char *dir, const char *file, const char *val,
	     struct error *err);
/* Read a whole small file into buf (NUL-terminated); -1 with errno. */
int cg_read(const char *path, char *buf, size_t len);
/* mkdir -p (EEXIST is fine). */
int cg_mkdir_p(const char *dir, struct error *err);
/* Create base/name (and base) and record it in cg; an empty leftover at
 * base/name is removed first, one with processes is an error. */
int cg_make_leaf(struct cgroup *cg, const char *base, const char *name,
		 struct error *err);

/* The cgroup2 mount: /sys/fs/cgroup if it is one, else the first (e.g.
 * /sys/fs/cgroup/unified in the hybrid layout); NULL if none. */
const struct cg_mount *cg_v2_mount(const struct cg_mount *m, size_t n);

/* The back ends. Both fill cg (dirs) and write the limits. path: the
 * cgroup's absolute path in each hierarchy (an OCI cgroupsPath), or
 * NULL for vessel's <...>/vessel/<name>. */
bool cg_v2_usable(const struct cg_mount *mounts, size_t n);
int cg_v2_create(struct cgroup *cg, const struct cg_mount *mounts, size_t n,
		 const char *name, const char *path,
		 const struct container_config *ct, struct error *err);
int cg_v1_create(struct cgroup *cg, const struct cg_mount *mounts, size_t n,
		 const char *name, const char *path,
		 const struct container_config *ct, struct error *err);
/* Split the absolute path "/a/b/leaf" into base "<dir>/a/b" and leaf. */
int cg_split_path(const char *dir, const char *path, char *base,
		  size_t len, const char **leaf, struct error *err);

#endif
