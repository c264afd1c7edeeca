/* Live migration: the stream (migration_stream.c) and the source side
 * (migration_send.c). docs/migration.md describes the protocol.
 *
 * The source streams the guest's definition, then its RAM while the
 * vCPUs run (pre-copy: a first pass over every touched page, then rounds
 * of the pages written since, from KVM's dirty log and the devices'
 * marks), until what is left fits the allowed downtime at the measured
 * rate. It then pauses the guest and quiesces its devices, sends the last
 * pages and the state image (the same sections a snapshot holds) and
 * waits for the destination's answer. The destination writes what it
 * receives as a snapshot directory (config.yaml, memory, state) and
 * restores it under a supervisor; only when that guest runs does it
 * answer "ok", and only then does the source stop. Any failure before
 * leaves the guest running on the source.
 *
 * The stream is untrusted input on the receiving side: every frame's
 * type, order, length and offset is checked against the guest's layout,
 * and nothing is allocated from a length before it is checked. */
#ifndef VESSEL_MIGRATION_H
#define VESSEL_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../tools/base/error.h"

#define MIG_MAGIC        "VESSELMG"
#define MIG_REPLY_MAGIC  "VESSELMR"
#define MIG_ACK_MAGIC    "VESSELMA"
#define MIG_VERSION      3
#define MIG_PAGE         4096u
#define MIG_MAX_CONFIG   (1u << 20)     /* the definition, YAML */
#define MIG_MAX_PAGES    (16u << 20)    /* RAM bytes in one frame */
#define MIG_MAX_MESSAGE  4096u          /* an abort or a reply's text */

enum mig_frame {
	MIG_CONFIG = 1,         /* the definition (YAML) */
	MIG_RAM = 2,            /* u64 RAM size */
	MIG_PAGES = 3,          /* u64 RAM offset, then the pages */
	MIG_STATE = 4,          /* the state image (vmm/vmstate.h) */
	MIG_END = 5,            /* all sent: restore it and answer */
	MIG_ABORT = 6,          /* the source gives up: a message */
	MIG_ORIGIN = 7,         /* u32 name length, the guest's name, then
				 * the definition's directory */
	MIG_DISKS = 8,          /* u32 count, then per disk: u32 flags,
				 * u64 size, u32 path length, the path */
	MIG_DISK_DATA = 9,      /* u32 disk, u32 0, u64 offset, the bytes */
	MIG_SYNC = 10,          /* u64 token: answer with an ack once all
				 * before it is in */
};
#define MIG_MAX_NAME     255u
#define MIG_MAX_DISKS    32u
#define MIG_MAX_DISK_SIZE (1ull << 50)  /* 1 PiB */
#define MIG_DISK_RO      1u             /* DISKS flags: read-only */
#define MIG_DISK_COPIED  2u             /* its data follows in the stream */

/* One disk as the DISKS frame describes it. */
struct mig_disk {
	unsigned index;                 /* in the definition's disks */
	uint64_t size;
	bool readonly;
	bool copied;                    /* DISK_DATA frames bring its data */
	const char *path;               /* the image at the source */
};

/* ---- writing (the source) ---- */

int mig_send_header(int fd, struct error *err);
/* One frame whose payload is a (alen bytes) then b (blen bytes). */
int mig_send_frame(int fd, uint32_t type, const void *a, size_t alen,
		   const void *b, size_t blen, struct error *err);
/* The ORIGIN frame: the guest's name and its definition's directory. */
int mig_send_origin(int fd, const char *name, const char *dir,
		    struct error *err);
/* The DISKS frame: n (1 to MIG_MAX_DISKS) disks, index 0 to n - 1. */
int mig_send_disks(int fd, const struct mig_disk *d, unsigned n,
		   struct error *err);
/* Wait for the destination's ack of the SYNC frame with token: -1 if the
 * stream broke, or the ack is malformed or for another token. */
int mig_read_ack(int fd, uint64_t token, struct error *err);
/* The destination's answer: 0 with *ok and msg (size bytes, terminated)
 * filled, or -1 when the stream broke or is not an answer. */
int mig_read_reply(int fd, bool *ok, char *msg, size_t size, struct error *err);

/* ---- reading (the destination) ---- */

struct mig_rx_stats {
	char name[MIG_MAX_NAME + 1];    /* from the ORIGIN frame */
	char config_dir[4096];
	uint64_t ram_size;
	uint64_t frames, page_bytes;    /* PAGES frames and RAM bytes */
	uint64_t config_len, state_len;
	unsigned ndisks;                /* from the DISKS frame */
	uint64_t disk_bytes;            /* copied disk data received */
};


/* Read one whole migration from fd into the empty directory dir:
 * config.yaml, memory (sparse, RAM size long) and state, i.e. a snapshot
 * directory (vm_snapshot_open() reads it). Returns 0 after MIG_END; -1
 * on a broken, truncated or malformed stream, an abort (err says the
 * source's message) or a host error. On -1 dir holds partial files: the
 * caller removes them. */
struct mig_rx_hooks {
	/* Called once the definition (config.yaml in dir), the origin (st's
	 * name and config_dir) and the RAM size are in, with the memory file
	 * made (RAM size long; pages keep arriving in it): a destination
	 * prepares its VM here. -1 ends the receive with err. */
	int (*prepared)(void *opaque, const struct mig_rx_stats *st,
			struct error *err);
	/* Called for each disk of the DISKS frame, before prepared: the
	 * image the destination is to use. For a copied disk, *fd: a new
	 * empty image of d->size bytes the data is written to (the receive
	 * syncs it before it ends, and closes it); for one on shared
	 * storage, -1. NULL: disks are refused. */
	int (*disk)(void *opaque, const struct mig_rx_stats *st,
		    const struct mig_disk *d, int *fd, struct error *err);
	/* A SYNC frame: everything before it is written; answer the source
	 * (mig_send_ack). NULL: SYNC frames are refused. */
	int (*synced)(void *opaque, uint64_t token, struct error *err);
	void *opaque;
};
int mig_receive(int fd, const char *dir, struct mig_rx_stats *st,
		const struct mig_rx_hooks *hooks, struct error *err);
/* The answer to the source. */
int mig_send_reply(int fd, bool ok, const char *msg);
/* The ack of a SYNC frame: MIG_ACK_MAGIC, then the u64 token. */
int mig_send_ack(int fd, uint64_t token, struct error *err);

/* ---- the source side ---- */

struct vm;

struct mig_progress {
	unsigned round;                 /* 0: the first full pass */
	uint64_t sent;                  /* bytes on the wire so far */
	uint64_t round_bytes;           /* RAM bytes sent in this round */
	uint64_t dirty_bytes;           /* written since: the next round */
	uint64_t rate;                  /* bytes/s measured */
	uint64_t dirty_rate;            /* bytes/s the guest dirties */
	uint64_t expected_downtime_ms;
	uint64_t elapsed_ms;
};

struct mig_opts {
	int fd;                         /* connected to the destination */
	uint64_t max_downtime_ms;       /* 0: 300 */
	uint64_t bandwidth;             /* bytes/s; 0: unlimited */
	uint64_t timeout_ms;            /* for convergence; 0: 600 s */
	unsigned max_rounds;            /* 0: 30 */
	const char *config;             /* the definition (YAML text) */
	size_t config_len;
	const char *config_dir;         /* its directory */
	const char *name;               /* the guest's */
	bool with_disks;                /* copy the disks, tracking writes */
	/* Called after each round from the migrating thread. */
	void (*progress)(void *opaque, const struct mig_progress *p);
	void *opaque;
};

struct mig_result {
	struct mig_progress last;
	uint64_t downtime_ms;           /* from the pause to the answer */
	/* Where the downtime went, in order: pausing the vCPUs and
	 * quiescing the devices; the last pages and disk blocks; the state
	 * image; the devices' handover (disks synced); from END to the
	 * destination's answer (its restore). */
	uint64_t pause_ms, last_ms, state_ms, handover_ms, answer_ms;
	uint64_t total_ms;
	long long paused_at_us;         /* wall clock (wall_us) at the pause */
	unsigned rounds;                /* the first pass, the pre-copy rounds
					 * and the final paused pass */
};

#endif
