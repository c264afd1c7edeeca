/* Data file system (datafs.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datafs.h"
#include "tool_run.h"

/* debugfs takes one command a line, words split at blanks. */
static int fix_inodes(FILE *cmds, const char *staging, const char *rel,
		      int64_t t, int depth, struct error *err)
{
	char path[4096];
	struct dirent **names;
	int n, r = 0;

	for (const char *c = rel; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '"' || *c == '\\' || *c == 0x7f)
			return err_input(err, "data partition: the name '%s' has "
					 "a blank, quote or control character", rel);
	fprintf(cmds, "sif \"/%s\" uid 0\nsif \"/%s\" gid 0\n", rel, rel);
	fprintf(cmds, "sif \"/%s\" atime %lld\nsif \"/%s\" mtime %lld\n"
		"sif \"/%s\" ctime %lld\n", rel, (long long)t, rel,
		(long long)t, rel, (long long)t);
	snprintf(path, sizeof(path), "%s/%s", staging, rel);
	struct stat st;

	if (lstat(path, &st) < 0)
		return err_sys(err, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth > 64)
		return err_input(err, "data partition: nested too deep");
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return err_sys(err, "%s", path);
	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;

		if (r == 0 && strcmp(d, ".") && strcmp(d, "..")) {
			char sub[4096];

			if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel,
					     *rel ? "/" : "", d) >= sizeof(sub))
				r = err_input(err, "data partition: path too long");
			else
				r = fix_inodes(cmds, staging, sub, t, depth + 1, err);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int datafs_build(const char *staging, const char *out, uint64_t size,
		 const char *uuid, int64_t fs_time, struct error *err)
{
	char fake[64], ext[128], cmdfile[4200];
	FILE *cmds;
	int fd, r;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		err_sys(err, "%s", out);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	snprintf(fake, sizeof(fake), "E2FSPROGS_FAKE_TIME=%lld", (long long)fs_time);
	snprintf(ext, sizeof(ext), "hash_seed=%s,root_owner=0:0", uuid);
	const char *env[] = { fake, NULL };
	const char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-L", DATAFS_LABEL, "-U",
			       uuid, "-E", ext, "-d", staging, out, NULL };

	if (tool_run(mkfs, env, err) < 0)
		return err_prefix(err, "data partition");
	snprintf(cmdfile, sizeof(cmdfile), "%s.debugfs", out);
	cmds = fopen(cmdfile, "we");
	if (!cmds)
		return err_sys(err, "%s", cmdfile);
	r = fix_inodes(cmds, staging, "", fs_time, 0, err);
	if (fclose(cmds) != 0 && r == 0)
		r = err_sys(err, "%s", cmdfile);
	if (r == 0) {
		const char *dbg[] = { "debugfs", "-w", "-f", cmdfile, out, NULL };

		r = tool_run_quiet(dbg, env, err);
		if (r < 0)
			err_prefix(err, "data partition");
	}
	unlink(cmdfile);
	return r;
}
