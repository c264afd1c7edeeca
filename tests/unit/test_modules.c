/* Unit tests for the module index (tools/appliance/modules.c): modules.dep
 * and modules.builtin parsing, names ('-' as '_', suffixes), dependency
 * order (every dependency before its users, each file once), built-in
 * modules needing no file, the errors (unknown module, a dependency
 * without its own line, cycles, paths escaping the module directory); and
 * the ldd output parser (tools/appliance/libdeps.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tools/appliance/libdeps.h"
#include "../../tools/appliance/modules.h"

static const char DEP[] =
	"kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko\n"
	"kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko kernel/drivers/crypto/ccp/ccp.ko.xz\n"
	"kernel/virt/lib/irqbypass.ko:\n"
	"kernel/drivers/crypto/ccp/ccp.ko.xz:\n"
	"kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
	"kernel/net/802/stp.ko: kernel/net/llc/llc.ko\n"
	"kernel/net/llc/llc.ko:\n";

static const char BUILTIN[] =
	"kernel/fs/ext4/ext4.ko\n"
	"kernel/drivers/virtio/virtio_pci.ko\n";

/* Resolve wanted (NULL-terminated) and join the paths with spaces. */
static int resolve(const char *dep, const char *const *wanted, char *out,
		   size_t size, struct error *err)
{
	struct moddb db = { 0 };
	char **paths;
	size_t n = 0, npaths;
	int r;

	err_clear(err);
	while (wanted[n])
		n++;
	r = moddep_parse(&db, dep, strlen(dep), err);
	if (r == 0)
		r = modbuiltin_parse(&db, BUILTIN, strlen(BUILTIN), err);
	if (r == 0)
		r = moddb_resolve(&db, wanted, n, "6.1-test", &paths, &npaths, err);
	out[0] = '\0';
	if (r == 0) {
		for (size_t i = 0; i < npaths; i++) {
			strncat(out, paths[i], size - strlen(out) - 2);
			strcat(out, " ");
			free(paths[i]);
		}
		free(paths);
	}
	moddb_free(&db);
	return r;
}

static void test_dependency_order(void **state)
{
	const char *wanted[] = { "kvm_amd", "kvm", "bridge", "ext4", NULL };
	struct error err = { 0 };
	char out[2048];

	(void)state;
	assert_int_equal(resolve(DEP, wanted, out, sizeof(out), &err), 0);
	/* kvm-amd's deps first (depth first, each once); ext4 is built in. */
	assert_string_equal(out,
		"kernel/virt/lib/irqbypass.ko kernel/arch/x86/kvm/kvm.ko "
		"kernel/drivers/crypto/ccp/ccp.ko.xz kernel/arch/x86/kvm/kvm-amd.ko "
		"kernel/net/llc/llc.ko kernel/net/802/stp.ko kernel/net/bridge/bridge.ko ");
}

static void test_names(void **state)
{
	const char *wanted[] = { "kvm-amd", "virtio-pci", "ccp", NULL };
	struct error err = { 0 };
	char out[2048], *n;

	(void)state;
	n = kmod_name("kernel/arch/x86/kvm/kvm-amd.ko.zst");
	assert_string_equal(n, "kvm_amd");
	free(n);
	n = kmod_name("sd_mod");
	assert_string_equal(n, "sd_mod");
	free(n);
	assert_int_equal(resolve(DEP, wanted, out, sizeof(out), &err), 0);
	assert_string_equal(out, "kernel/virt/lib/irqbypass.ko kernel/arch/x86/kvm/kvm.ko "
			    "kernel/drivers/crypto/ccp/ccp.ko.xz kernel/arch/x86/kvm/kvm-amd.ko ");
}

static void test_unknown_module(void **state)
{
	const char *wanted[] = { "kvm", "e1000", NULL };
	struct error err = { 0 };
	char out[2048];

	(void)state;
	assert_int_equal(resolve(DEP, wanted, out, sizeof(out), &err), -1);
	assert_int_equal(err.input, 1);
	assert_non_null(strstr(err.msg, "kernel 6.1-test has no module e1000"));
}

static void test_bad_dep_files(void **state)
{
	const char *wanted[] = { "a", NULL };
	struct error err = { 0 };
	char out[256];

	(void)state;
	/* A dependency without its own line. */
	assert_int_equal(resolve("a.ko: b.ko\n", wanted, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "modules.dep:1: dependency 'b.ko'"));
	/* No colon. */
	assert_int_equal(resolve("a.ko\n", wanted, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "modules.dep:1:"));
	/* Paths that would leave the module directory, or are not modules. */
	assert_int_equal(resolve("../a.ko:\n", wanted, out, sizeof(out), &err), -1);
	assert_int_equal(resolve("/lib/a.ko:\n", wanted, out, sizeof(out), &err), -1);
	assert_int_equal(resolve("x/./a.ko:\n", wanted, out, sizeof(out), &err), -1);
	assert_int_equal(resolve("a.txt:\n", wanted, out, sizeof(out), &err), -1);
	assert_int_equal(resolve("a b.ko:\n", wanted, out, sizeof(out), &err), -1);
	/* Twice. */
	assert_int_equal(resolve("a.ko:\na.ko:\n", wanted, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "modules.dep:2: module listed twice"));
	/* A cycle. */
	assert_int_equal(resolve("a.ko: b.ko\nb.ko: a.ko\n", wanted, out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "cycle"));
	/* Comments, blank lines and a missing final newline are fine. */
	assert_int_equal(resolve("# x\n\nb.ko:\na.ko: b.ko", wanted, out, sizeof(out), &err), 0);
	assert_string_equal(out, "b.ko a.ko ");
	assert_int_equal(resolve("", (const char *[]){ NULL }, out, sizeof(out), &err), 0);
}

static void test_ldd_output(void **state)
{
	static const char out[] =
		"\tlinux-vdso.so.1 (0x00007ffc)\n"
		"\tlibyaml-0.so.2 => /lib/x86_64-linux-gnu/libyaml-0.so.2 (0x00007f)\n"
		"\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f)\n"
		"\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f)\n"
		"\tlibgone.so => not found\n"
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f)";
	struct error err = { 0 };
	char **paths;
	size_t n;

	(void)state;
	assert_int_equal(libdeps_parse(out, &paths, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(paths[0], "/lib/x86_64-linux-gnu/libyaml-0.so.2");
	assert_string_equal(paths[1], "/lib/x86_64-linux-gnu/libz.so.1");
	assert_string_equal(paths[2], "/lib64/ld-linux-x86-64.so.2");
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dependency_order),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_unknown_module),
		cmocka_unit_test(test_bad_dep_files),
		cmocka_unit_test(test_ldd_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
