/* container_run: vessel run's foreground container, as a user of the
 * handle (handle.h): create, start, wait, destroy, with vessel's signal
 * handling around it; container_run_notify also says when PID 1 runs. */
#include "container.h"
#include "ct.h"
#include "handle.h"
#include "supervise.h"

#include <signal.h>
#include <string.h>
#include <time.h>

int container_run(const struct container_config *c, struct error *err)
{
	return container_run_notify(c, NULL, NULL, err);
}

int container_run_notify(const struct container_config *c,
			 container_started_fn *started, void *arg,
			 struct error *err)
{
	static const int fwd[] = { SIGINT, SIGTERM, SIGQUIT };
	enum { NFWD = sizeof(fwd) / sizeof(fwd[0]) };
	struct ct_create_opts o = { .console_socket = -1 };
	struct sigaction old[NFWD];
	struct error ignored;
	sigset_t block, oldmask;
	struct ct *ct = NULL;
	int ret = -1;
	size_t i;

	supervise_sigset(&block);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	/* A shell starts background jobs with SIGINT and SIGQUIT ignored;
	 * ignored signals never reach the signalfd, so take them back for
	 * the run (they stay blocked: nothing is delivered to vessel). */
	for (i = 0; i < NFWD; i++)
		sigaction(fwd[i], &(struct sigaction){ .sa_handler = SIG_DFL },
			  &old[i]);
	o.child_mask = &oldmask;
	if (container_create(c, &o, &ct, err) == 0 &&
	    container_start(ct, err) == 0) {
		if (started)
			started(container_pid(ct), arg);
		ret = container_wait(ct, err);
	}
	if (ct && ret < 0) {
		container_destroy(ct, &ignored);
	} else if (ct && container_destroy(ct, err) < 0) {
		err_prefix(err, "the container exited with status %d, but "
			   "cleaning up failed", ret);
		ret = -1;
	}
	/* Signals that came too late were meant for the container. */
	while (sigtimedwait(&block, NULL, &(struct timespec){ 0 }) > 0)
		;
	for (i = 0; i < NFWD; i++)
		sigaction(fwd[i], &old[i], NULL);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return ret;
}
