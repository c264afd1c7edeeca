/* The kernel command line at CMDLINE_ADDR: the user's, with the board's own
 * parameters (cmdline_x86.c) added where the user has not set them. */
#include "loader.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

/* The next word of s at or after *pos, as the kernel's parser splits them:
 * runs of spaces separate words, except inside double quotes. A quote left
 * open runs to the end of s. */
static bool next_word(const char *s, size_t *pos, size_t *start, size_t *end)
{
	size_t i = *pos;
	bool quoted = false;

	while (s[i] && isspace((unsigned char)s[i]))
		i++;
	if (!s[i])
		return false;
	*start = i;
	for (; s[i] && (quoted || !isspace((unsigned char)s[i])); i++)
		if (s[i] == '"')
			quoted = !quoted;
	*end = *pos = i;
	return true;
}

/* A parameter's name: the word up to its '='. */
static size_t name_len(const char *w, size_t n)
{
	const char *eq = memchr(w, '=', n);

	return eq ? (size_t)(eq - w) : n;
}

/* Names match as the kernel matches them: '-' and '_' are the same. */
static bool same_name(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];

		if (x != y)
			return false;
	}
	return true;
}

/* Does the word w[0, n) leave a double quote open? */
static bool quote_open(const char *w, size_t n)
{
	bool open = false;

	for (size_t i = 0; i < n; i++)
		open ^= w[i] == '"';
	return open;
}

/* Where the kernel's parameters end in line: at its "--" word (what
 * follows goes to init), else at its end; SIZE_MAX if a quote is left
 * open there (a word put in would be part of the quoted value). Sets *has
 * to whether line sets the parameter named like w[0, n) before that. */
static size_t params_end(const char *line, const char *w, size_t n, bool *has)
{
	size_t pos = 0, a, b;

	*has = false;
	while (next_word(line, &pos, &a, &b)) {
		if (b - a == 2 && !strncmp(line + a, "--", 2))
			return a;
		if (name_len(line + a, b - a) == name_len(w, n) &&
		    same_name(line + a, w, name_len(w, n)))
			*has = true;
		if (!line[b] && quote_open(line + a, b - a))
			return SIZE_MAX;
	}
	return strlen(line);
}

size_t cmdline_add_params(const char *line, const char *extra, char *out,
			  size_t cap)
{
	size_t pos = 0, a, b, len = strlen(line);

	if (cap == 0 || len >= cap)
		return 0;
	memcpy(out, line, len + 1);
	while (next_word(extra, &pos, &a, &b)) {
		bool has;
		size_t at = params_end(out, extra + a, b - a, &has);
		size_t n = b - a, gap;

		if (at == SIZE_MAX)
			return 0;
		if (has)
			continue;
		/* out[0, at) + ' ' + the word + (' ' + the rest, if any) */
		gap = at > 0 && !isspace((unsigned char)out[at - 1]);
		if (len + gap + n + (at < len) >= cap)
			return 0;
		memmove(out + at + gap + n + (at < len), out + at, len - at + 1);
		if (gap)
			out[at] = ' ';
		memcpy(out + at + gap, extra + a, n);
		if (at < len)
			out[at + gap + n] = ' ';
		len += gap + n + (at < len);
	}
	return len;
}

int cmdline_write(struct gmem *m, const char *cmdline, const char *extra,
		  uint64_t max_len, struct error *err)
{
	const char *line = cmdline ? cmdline : "";
	size_t len = strlen(line);
	char *buf = NULL;
	int r;

	if (max_len == 0 || max_len > CMDLINE_MAX - 1)
		max_len = CMDLINE_MAX - 1;
	if (len > max_len)
		return err_set(err, "cmdline is %zu bytes; this kernel takes at most %llu",
			       len, (unsigned long long)max_len);
	/* The board's parameters go in only whole, and only where they fit. */
	if (extra && *extra) {
		size_t n;

		if (!(buf = malloc(max_len + 1)))
			return err_set(err, "out of memory");
		if ((n = cmdline_add_params(line, extra, buf, max_len + 1)) > 0) {
			line = buf;
			len = n;
		}
	}
	r = gmem_write(m, CMDLINE_ADDR, line, len + 1, err);
	free(buf);
	return r;
}
