/* A kernel's module index (modules.dep, modules.builtin under
 * /lib/modules/KVER) and which module files a list of wanted modules
 * needs, dependencies first: the appliance's /lib/modules/load-order. */
#ifndef VESSEL_MODULES_H
#define VESSEL_MODULES_H

#include <stddef.h>

#include "../base/error.h"

struct kmod {
	char *name;             /* "kvm_amd": file name, no suffix, '-' -> '_' */
	char *path;             /* "kernel/arch/x86/kvm/kvm-amd.ko" */
	size_t *deps;           /* indexes into moddb.mods */
	size_t ndeps;
};

struct moddb {
	struct kmod *mods;
	size_t nmods;
	char **builtin;         /* names, as kmod.name */
	size_t nbuiltin;
};

/* Parse modules.dep's text ("PATH: DEP DEP ...", one module a line) into
 * db (zeroed first, or added to). Paths must be relative without ".."
 * (they become paths in the image); every dependency must have its own
 * line. Errors name the line: "modules.dep:12: ...". */
int moddep_parse(struct moddb *db, const char *text, size_t len,
		 struct error *err);
/* Parse modules.builtin's text (one PATH a line). */
int modbuiltin_parse(struct moddb *db, const char *text, size_t len,
		     struct error *err);
/* Read moddir/modules.dep and moddir/modules.builtin (absent: none). */
int moddb_load(struct moddb *db, const char *moddir, struct error *err);
/* The module name as the index spells it: basename, without .ko and a
 * compression suffix, '-' as '_'. Returns a new string. */
char *kmod_name(const char *path_or_name);
/* The files the wanted modules need, each once, every dependency before
 * its users, in order of the wanted list: *paths (allocated, with its
 * strings) and *npaths. Built-in modules need nothing; a name in neither
 * index is an input error naming it and kernel (a label for messages). */
int moddb_resolve(const struct moddb *db, const char *const *wanted,
		  size_t nwanted, const char *kernel, char ***paths,
		  size_t *npaths, struct error *err);
void moddb_free(struct moddb *db);

#endif
