/* libFuzzer: the board's parameters added to a user's kernel command line
 * (boot/cmdline.c), the input being that command line. What comes out must
 * fit its buffer, keep every byte of the user's line in order, say each
 * parameter once (a second pass adds nothing), and leave what follows a
 * "--" to init untouched. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../../boot/loader.h"

#define EXTRA "noreplace-smp foo=1"

/* Line's first "--" word and what follows, if it has one and no quotes. */
static const char *init_args(const char *line)
{
	if (strchr(line, '"'))
		return NULL;
	for (size_t p = 0; line[p]; p++)
		if (line[p] == '-' && line[p + 1] == '-' &&
		    (p == 0 || isspace((unsigned char)line[p - 1])) &&
		    (!line[p + 2] || isspace((unsigned char)line[p + 2])))
			return line + p;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, *out, *again;
	size_t cap, n, i, j;

	if (size < 1)
		return 0;
	cap = data[0] + 1;
	line = malloc(size);
	out = malloc(cap);
	again = malloc(cap);
	if (!line || !out || !again)
		abort();
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	n = cmdline_add_params(line, EXTRA, out, cap);
	if (n > 0) {
		if (n >= cap || strlen(out) != n || n < strlen(line))
			abort();
		/* The user's bytes, in order, with only words put in between. */
		for (i = j = 0; line[i] && j < n; j++)
			if (out[j] == line[i])
				i++;
		if (line[i])
			abort();
		if (cmdline_add_params(out, EXTRA, again, cap) != n ||
		    strcmp(out, again))
			abort();
		/* Init's arguments: the same tail. */
		const char *t = init_args(line);

		if (t && (strlen(t) > n || strcmp(out + n - strlen(t), t)))
			abort();
	}
	free(line);
	free(out);
	free(again);
	return 0;
}
