/* The boot timeline (vmm/timeline.c) and its printing (tools/timings.c):
 * the first mark of a milestone wins, with its detail; a note set before
 * the mark is its detail, one set after is ignored; threads racing for a
 * milestone leave one time with one whole detail; the printout lists every
 * milestone in boot order, "-" for those never reached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tools/timings.h"
#include "../../vmm/timeline.h"

static void test_first_mark_wins(void **state)
{
	struct timeline_entry e, again;

	(void)state;
	timeline_reset();
	timeline_get(MS_KVM_OPENED, &e);
	assert_true(e.ns < 0);
	assert_false(timeline_marked(MS_KVM_OPENED));
	timeline_mark_detail(MS_KVM_OPENED, "first %d", 1);
	assert_true(timeline_marked(MS_KVM_OPENED));
	timeline_get(MS_KVM_OPENED, &e);
	assert_true(e.ns > 0 && e.ns <= timeline_now());
	assert_string_equal(e.name, "/dev/kvm opened");
	assert_string_equal(e.detail, "first 1");
	timeline_mark_detail(MS_KVM_OPENED, "second");
	timeline_mark(MS_KVM_OPENED);
	timeline_get(MS_KVM_OPENED, &again);
	assert_int_equal(again.ns, e.ns);
	assert_string_equal(again.detail, "first 1");
	/* out of range: ignored */
	timeline_mark(MS_COUNT);
	timeline_get(MS_COUNT, &e);
	assert_true(e.ns < 0);
}

static void test_note_then_mark(void **state)
{
	struct timeline_entry e;
	char longer[TIMELINE_DETAIL_MAX * 2];

	(void)state;
	timeline_reset();
	timeline_note(MS_KERNEL_LOADED, "cache %s", "hit");
	timeline_get(MS_KERNEL_LOADED, &e);
	assert_true(e.ns < 0);          /* a note is not a mark */
	timeline_mark(MS_KERNEL_LOADED);
	timeline_note(MS_KERNEL_LOADED, "too late");
	timeline_get(MS_KERNEL_LOADED, &e);
	assert_string_equal(e.detail, "cache hit");
	/* a detail longer than the slot is cut, NUL-terminated */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	timeline_mark_detail(MS_INITRD_LOADED, "%s", longer);
	timeline_get(MS_INITRD_LOADED, &e);
	assert_int_equal(strlen(e.detail), TIMELINE_DETAIL_MAX - 1);
}

#define RACERS 8

static void *racer(void *arg)
{
	timeline_mark_detail(MS_FIRST_SERIAL_BYTE, "thread %ld padded to be long "
			     "enough to be torn if two wrote it", (long)(intptr_t)arg);
	return NULL;
}

static void test_racing_marks(void **state)
{
	pthread_t t[RACERS];
	struct timeline_entry e;
	long who;

	(void)state;
	for (int round = 0; round < 50; round++) {
		timeline_reset();
		for (long i = 0; i < RACERS; i++)
			assert_int_equal(pthread_create(&t[i], NULL, racer,
							(void *)(intptr_t)i), 0);
		for (int i = 0; i < RACERS; i++)
			pthread_join(t[i], NULL);
		timeline_get(MS_FIRST_SERIAL_BYTE, &e);
		assert_true(e.ns > 0);
		assert_int_equal(sscanf(e.detail, "thread %ld", &who), 1);
		assert_true(who >= 0 && who < RACERS);
		assert_non_null(strstr(e.detail, "padded to be long enough to be "
					"torn if two wrote it"));
	}
}

static void test_print(void **state)
{
	char *buf = NULL, *line, *save;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	(void)state;
	assert_non_null(f);
	timeline_reset();
	timeline_mark(MS_CONFIG_PARSED);
	timeline_mark_detail(MS_KERNEL_LOADED, "cache hit");
	timings_print(f);
	fclose(f);
	assert_non_null(strstr(buf, "kernel loaded (cache hit)\n"));
	line = strtok_r(buf, "\n", &save);
	assert_string_equal(line, "vessel: boot timeline, ms since launch:");
	while ((line = strtok_r(NULL, "\n", &save))) {
		struct timeline_entry e;
		double ms;

		timeline_get(n, &e);
		assert_non_null(strstr(line, e.name));
		if (e.ns < 0) {
			assert_non_null(strstr(line, "- "));
			assert_non_null(strstr(line, "(not reached)"));
		} else {
			assert_int_equal(sscanf(line, "%lf ms", &ms), 1);
			assert_true(ms >= 0 && ms * 1e6 <= e.ns + 1e5);
		}
		n++;
	}
	assert_int_equal(n, MS_COUNT);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_mark_wins),
		cmocka_unit_test(test_note_then_mark),
		cmocka_unit_test(test_racing_marks),
		cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
