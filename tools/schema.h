/* The guest file schema: one table of keys drives parsing, validation,
 * defaults, freeing and `vessel help config`.
 *
 * Each key says what YAML shape it takes (a scalar, a list of scalars, a
 * map of strings, or a list of maps with its own nested key table), how its
 * text is checked, its default and range, and where the value lands: .off
 * (and .off2) are byte offsets into the struct being filled, which is
 * struct guest_config at the top level and the item struct (struct ct_mount,
 * struct ct_net, ...) inside a list of maps.
 *
 * Keys shared by every kind live in schema_common; each kind has its own
 * table in schema_kinds[], so the same name (memory, nets) can mean
 * different things for a VM and a container. config_free() walks every
 * table, so two keys must never own the same field. */
#ifndef VESSEL_SCHEMA_H
#define VESSEL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* KF_WHERE: room for "file:line:col: key" (longer is cut). */
#define SCHEMA_WHERE_LEN 256

/* Upper bound on the keys valid in one mapping (common + one kind). */
#define SCHEMA_MAX_KEYS 64

enum key_type {
	KT_STRING,	/* scalar, stored as char * */
	KT_PATH,	/* scalar resolved against the file's dir; must exist */
	KT_INT,		/* integer in imin..imax, in a .size byte field */
	KT_NUMBER,	/* finite double in dmin..dmax */
	KT_SIZE,	/* bytes with an optional K/M/G/T suffix, uint64_t */
	KT_BOOL,	/* true/false (also yes/no, on/off), bool */
	KT_ENUM,	/* one of .choices, stored as an int-sized enum */
	KT_USER,	/* "uid:gid": uid at .off, gid at .off2 */
	KT_STR_LIST,	/* list of scalars (a lone scalar is a 1-item list):
			 * char ** at .off, size_t count at .off2 */
	KT_STR_MAP,	/* map of scalars -> "KEY=VALUE" strings, stored
			 * like KT_STR_LIST (a "KEY=VALUE" list works too) */
	KT_MAP_LIST,	/* list of maps: array of .item_size items at .off,
			 * size_t count at .off2, item keys in .sub */
	KT_MAP,		/* one map: its keys (.sub) fill the struct at .off */
};

enum key_flags {
	KF_REQUIRED = 1 << 0,	/* no default: the key must be given */
	KF_MIN_EXCL = 1 << 1,	/* KT_NUMBER: value must be > dmin */
	KF_NONEMPTY = 1 << 2,	/* KT_STR_LIST: at least one item */
	KF_KIND = 1 << 3,	/* resolved first; selects the kind table */
	KF_SECONDS = 1 << 4,	/* KT_NUMBER: seconds; 60s, 2m, 1h work too */
	KF_ABSENT_OK = 1 << 5,	/* KT_PATH: resolved, need not exist (yet) */
	KF_WHERE = 1 << 6,	/* scalar given in the file: "file:line:col: key"
				 * into the char[SCHEMA_WHERE_LEN] at .off2 */
};

struct choice {
	const char *name;
	int value;
};

struct guest_config;
struct key_table;

struct key {
	const char *name;
	enum key_type type;
	unsigned flags;			/* enum key_flags */
	size_t off;			/* where the value lands */
	size_t size;			/* sizeof the field at .off */
	size_t off2;			/* list count, or gid for KT_USER */
	/* The default, as text parsed exactly like a user's value (but not
	 * range-checked, so 0 can mean "unlimited" where users must give
	 * > 0); one item for KT_STR_LIST, none for maps and lists of maps.
	 * NULL with no def_fn: the zeroed field is the default. */
	const char *def;
	/* A default computed from the rest of the config (name, hostname);
	 * writes the text into buf and returns 0. */
	int (*def_fn)(const struct guest_config *cfg, char *buf, size_t len);
	const char *def_doc;		/* default as help shows it */
	int64_t imin, imax;		/* KT_INT and KT_SIZE range */
	double dmin, dmax;		/* KT_NUMBER range */
	const struct choice *choices;	/* KT_ENUM; NULL name ends it */
	/* Extra validation of a string (for KT_PATH: the resolved path).
	 * Returns NULL if fine, else a message (possibly written in buf). */
	const char *(*check)(const char *val, char *buf, size_t len);
	/* KT_INT: a value given in the file must differ from every other
	 * given for a key of the same group, in any list ("pci slot"). */
	const char *unique;
	const struct key_table *sub;	/* KT_MAP_LIST item keys */
	size_t item_size;		/* KT_MAP_LIST item struct size */
	const char *help;
};

struct key_table {
	const char *name;		/* "common", "vm", "mounts", ... */
	const struct key *keys;
	size_t nkeys;
};

struct kind_schema {
	const char *name;		/* the value of `kind:` */
	enum guest_kind kind;
	const struct key_table *table;	/* keys only for this kind */
};

extern const struct key_table schema_common;
extern const struct kind_schema schema_kinds[];
extern const size_t schema_nkinds;

/* The kind's entry in schema_kinds, or NULL. */
const struct kind_schema *schema_kind(enum guest_kind kind);
/* The key called name in t, or NULL. */
const struct key *schema_find(const struct key_table *t, const char *name);

/* "an integer from 1 to 255", "a size from 32M to 1T", "vm or container":
 * what a value must look like, for "expected ..., got ..." messages. */
void schema_describe(const struct key *k, char *buf, size_t len);
/* "integer", "size", "list of maps", ...: the type's short name. */
const char *schema_type_name(const struct key *k);
/* "1 to 255", "> 0", "vm | container", or "" when unrestricted. */
void schema_range(const struct key *k, char *buf, size_t len);

/* Scalar codecs; each returns 0 on success, -1 on bad syntax/overflow. */
int schema_parse_int(const char *s, int64_t *out);
int schema_parse_number(const char *s, double *out);
/* A number of seconds with an optional ms, s, m or h suffix. */
int schema_parse_seconds(const char *s, double *out);
int schema_parse_size(const char *s, uint64_t *out);
int schema_parse_bool(const char *s, bool *out);
int schema_parse_user(const char *s, uid_t *uid, gid_t *gid);
/* Shortest exact form: 268435456 -> "256M", 1000 -> "1000". */
void schema_format_size(uint64_t bytes, char *buf, size_t len);

/* NULL if val is a valid guest name, else why not (in buf or static). */
const char *schema_check_name(const char *val, char *buf, size_t len);
/* The same for an interface name and an IPv4 "A.B.C.D/N". */
const char *schema_check_ifname(const char *val, char *buf, size_t len);
const char *schema_check_cidr(const char *val, char *buf, size_t len);

/* Another kind of YAML file (host.yaml) with the guest files' loader
 * (tools/config.c): the keys of t fill base (zeroed by the caller); no
 * kinds; relative paths resolve against the file's directory; an empty
 * file means every default. Errors read "file:line: key: message" (what:
 * "host file", for messages). On error base is freed and -1 returned. */
int config_load_keys(const char *path, const char *what,
		     const struct key_table *t, void *base, struct error *err);
/* Free what config_load_keys() put in base (its strings and lists). */
void config_free_keys(const struct key_table *t, void *base);

#endif
