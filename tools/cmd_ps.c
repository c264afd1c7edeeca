/* vessel ps [--json] */
#include "manage.h"
#include "control.h"
#include "exit_codes.h"
#include "state.h"

#include <getopt.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define PS_TIMEOUT_MS 2000

void usage_ps(FILE *out)
{
	fprintf(out,
		"usage: vessel ps [--json]\n"
		"\n"
		"List the started guests, one row each: NAME, KIND (vm or\n"
		"container), STATE (starting, running, paused, stopping,\n"
		"restarting; unresponsive when the supervisor does not answer\n"
		"within 2 s, with why on stderr), CPUS (a VM's vCPUs, a\n"
		"container's cpus: limit, - for none), MEMORY (- for no\n"
		"limit), UPTIME (of the current run), PID (the supervisor's)\n"
		"and RESTARTS (by the guest's `restart:` policy).\n"
		"Supervisors that died are not listed, and what they left is\n"
		"cleaned up.\n"
		"\n"
		"options:\n"
		"  --json         a JSON array of objects instead: name, kind,\n"
		"                 state, vcpus (VM) or cpus (container), memory\n"
		"                 (bytes, 0 = no limit), uptime (seconds), started\n"
		"                 (Unix time), pid, definition, console (attached),\n"
		"                 restarts; an unresponsive row: name, state, error;\n"
		"                 a VM's timings: its boot timeline, as `vessel run\n"
		"                 --timings` prints it ({milestone, ms, detail})\n"
		"  -h, --help     this help\n");
}

/* Ask NAME for its row; NULL if it is not running. A supervisor that
 * listens but does not answer in time still gets a row, in state
 * "unresponsive" with the error, so that a busy guest never vanishes
 * from the list. */
static struct json_object *query(const char *name)
{
	struct json_object *req = control_request("ps"), *reply = NULL;
	struct error err;
	int fd = guest_connect(name, &err);

	if (fd >= 0) {
		if (control_call(fd, req, &reply, PS_TIMEOUT_MS, &err) < 0) {
			fprintf(stderr, "vessel ps: %s: %s\n", name, err.msg);
			reply = json_object_new_object();
			json_object_object_add(reply, "name",
					       json_object_new_string(name));
			json_object_object_add(reply, "state",
				json_object_new_string("unresponsive"));
			json_object_object_add(reply, "error",
					       json_object_new_string(err.msg));
		}
		close(fd);
	}
	json_object_put(req);
	if (reply)
		json_object_object_del(reply, "ok");
	return reply;
}

static void fmt_size(char *buf, size_t len, int64_t v)
{
	if (v <= 0)
		snprintf(buf, len, "-");
	else if (v % (1LL << 30) == 0)
		snprintf(buf, len, "%lldG", (long long)(v >> 30));
	else if (v % (1LL << 20) == 0)
		snprintf(buf, len, "%lldM", (long long)(v >> 20));
	else
		snprintf(buf, len, "%lldK", (long long)(v >> 10));
}

static void fmt_uptime(char *buf, size_t len, int64_t s)
{
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)s / 60,
			 (long long)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)s / 3600,
			 (long long)s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)s / 86400,
			 (long long)s % 86400 / 3600);
}

static void print_row(struct json_object *o)
{
	struct json_object *v;
	char cpus[32], mem[32], up[32];
	const char *s;

	if (json_object_object_get_ex(o, "vcpus", &v))
		snprintf(cpus, sizeof(cpus), "%d", json_object_get_int(v));
	else if (json_object_object_get_ex(o, "cpus", &v) &&
		 json_object_get_double(v) > 0)
		snprintf(cpus, sizeof(cpus), "%g", json_object_get_double(v));
	else
		snprintf(cpus, sizeof(cpus), "-");
	fmt_size(mem, sizeof(mem), json_object_object_get_ex(o, "memory", &v) ?
		 json_object_get_int64(v) : 0);
	fmt_uptime(up, sizeof(up), json_object_object_get_ex(o, "uptime", &v) ?
		   json_object_get_int64(v) : 0);
	s = control_str(o, "state");
	printf("%-20s %-10s %-12s %5s %7s %8s %8d %8d\n",
	       control_str(o, "name") ?: "?", control_str(o, "kind") ?: "?",
	       s ? s : "?", cpus, mem, up, (int)control_num(o, "pid", 0),
	       (int)control_num(o, "restarts", 0));
}

int cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *all = json_object_new_array(), *row;
	struct error err;
	bool json = false;
	char **names;
	size_t n, i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hj", opts, NULL)) != -1) {
		if (c == 'h') {
			usage_ps(stdout);
			json_object_put(all);
			return 0;
		}
		if (c != 'j') {
			usage_ps(stderr);
			json_object_put(all);
			return EXIT_USAGE;
		}
		json = true;
	}
	if (optind != argc) {
		usage_ps(stderr);
		json_object_put(all);
		return EXIT_USAGE;
	}
	if (state_list(&names, &n, &err) < 0) {
		fprintf(stderr, "vessel ps: %s\n", err.msg);
		json_object_put(all);
		return EXIT_HOST;
	}
	for (i = 0; i < n; i++)
		if ((row = query(names[i])))
			json_object_array_add(all, row);
	state_list_free(names, n);
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(all,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	} else {
		printf("%-20s %-10s %-12s %5s %7s %8s %8s %8s\n", "NAME", "KIND",
		       "STATE", "CPUS", "MEMORY", "UPTIME", "PID", "RESTARTS");
		for (i = 0; i < json_object_array_length(all); i++)
			print_row(json_object_array_get_idx(all, i));
	}
	json_object_put(all);
	return 0;
}
