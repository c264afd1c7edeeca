/* Build-time tools (tool_run.h). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool_run.h"

#define OUTPUT_MAX (1u << 20)

static const char *package_of(const char *tool)
{
	static const struct { const char *tool, *pkg; } map[] = {
		{ "mkfs.vfat", "dosfstools" }, { "mmd", "mtools" },
		{ "mcopy", "mtools" }, { "mkfs.ext4", "e2fsprogs" },
		{ "debugfs", "e2fsprogs" }, { "objcopy", "binutils" },
		{ "ldd", "libc-bin" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].tool, tool))
			return map[i].pkg;
	return NULL;
}

static int run(const char *const *argv, const char *const *env, int *outfd,
	       char **out, size_t *len, bool quiet, struct error *err)
{
	int pipefd[2] = { -1, -1 }, status, saved;
	size_t got = 0;
	pid_t pid;

	if (outfd && pipe2(pipefd, O_CLOEXEC) < 0)
		return err_sys(err, "pipe");
	pid = fork();
	if (pid < 0) {
		saved = errno;
		if (outfd) {
			close(pipefd[0]);
			close(pipefd[1]);
		}
		errno = saved;
		return err_sys(err, "fork");
	}
	if (pid == 0) {
		int fd = outfd ? pipefd[1] : open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		if (quiet) {
			fd = open("/dev/null", O_WRONLY);
			if (fd >= 0)
				dup2(fd, STDERR_FILENO);
		}
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (outfd) {
		close(pipefd[1]);
		*out = malloc(OUTPUT_MAX + 1);
		for (;;) {
			char sink[4096];
			char *dst = *out && got < OUTPUT_MAX ? *out + got : sink;
			size_t room = *out && got < OUTPUT_MAX ? OUTPUT_MAX - got : sizeof(sink);
			ssize_t n = read(pipefd[0], dst, room);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (dst != sink)
				got += (size_t)n;
		}
		close(pipefd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_sys(err, "waitpid %s", argv[0]);
	if (outfd) {
		if (!*out)
			return err_set(err, "out of memory");
		(*out)[got] = '\0';
		*len = got;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (outfd) {
		free(*out);
		*out = NULL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		const char *pkg = package_of(argv[0]);

		return err_set(err, "cannot run %s%s%s%s", argv[0],
			       pkg ? " (install the package " : "",
			       pkg ? pkg : "", pkg ? ")" : "");
	}
	if (WIFEXITED(status))
		return err_set(err, "%s failed (exit status %d)", argv[0],
			       WEXITSTATUS(status));
	return err_set(err, "%s killed by signal %d", argv[0], WTERMSIG(status));
}

int tool_run(const char *const *argv, const char *const *env, struct error *err)
{
	return run(argv, env, NULL, NULL, NULL, false, err);
}

int tool_output(const char *const *argv, char **out, size_t *len,
		struct error *err)
{
	int dummy;

	*out = NULL;
	*len = 0;
	return run(argv, NULL, &dummy, out, len, false, err);
}

int tool_run_quiet(const char *const *argv, const char *const *env,
		   struct error *err)
{
	return run(argv, env, NULL, NULL, NULL, true, err);
}
