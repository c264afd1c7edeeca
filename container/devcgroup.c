/* The device cgroup (devcgroup.h): one allowlist, written out for v1 and
 * compiled into a BPF device program for v2. */
#include "devcgroup.h"
#include "cgroup_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ANY_MINOR -1

static const struct devrule {
	char type;		/* 'c' or 'b' */
	int major, minor;	/* minor may be ANY_MINOR */
} allowed[] = {
	{ 'c', 1, 3 },		/* null */
	{ 'c', 1, 5 },		/* zero */
	{ 'c', 1, 7 },		/* full */
	{ 'c', 1, 8 },		/* random */
	{ 'c', 1, 9 },		/* urandom */
	{ 'c', 5, 0 },		/* tty */
	{ 'c', 5, 1 },		/* console */
	{ 'c', 5, 2 },		/* ptmx */
	{ 'c', 136, ANY_MINOR },	/* pts */
};

#define NRULES (sizeof(allowed) / sizeof(allowed[0]))

int devcg_v1_apply(const char *dir, struct error *err)
{
	char line[64];
	size_t i;

	if (cg_write(dir, "devices.deny", "a", err) < 0)
		return err_prefix(err, "device cgroup");
	for (i = 0; i < NRULES; i++) {
		if (allowed[i].minor == ANY_MINOR)
			snprintf(line, sizeof(line), "%c %d:* rwm",
				 allowed[i].type, allowed[i].major);
		else
			snprintf(line, sizeof(line), "%c %d:%d rwm",
				 allowed[i].type, allowed[i].major,
				 allowed[i].minor);
		if (cg_write(dir, "devices.allow", line, err) < 0)
			return err_prefix(err, "device cgroup");
	}
	return 0;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), \
			     .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o)	INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define AND32(d, i)	INSN(BPF_ALU | BPF_AND | BPF_K, d, 0, 0, i)
#define JNE(d, i, o)	INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define MOV64(d, i)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define EXIT()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The program: r1 is struct bpf_cgroup_dev_ctx { access_type (access
 * << 16 | type), major, minor }. Returns 1 (allow) for a device that
 * matches a rule, whatever the access, 0 (deny) otherwise. Returns the
 * number of instructions. */
static size_t build_prog(struct bpf_insn *p)
{
	size_t n = 0, i;

	p[n++] = LDX_W(BPF_REG_2, BPF_REG_1,
		       offsetof(struct bpf_cgroup_dev_ctx, access_type));
	p[n++] = AND32(BPF_REG_2, 0xffff);
	p[n++] = LDX_W(BPF_REG_4, BPF_REG_1,
		       offsetof(struct bpf_cgroup_dev_ctx, major));
	p[n++] = LDX_W(BPF_REG_5, BPF_REG_1,
		       offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (i = 0; i < NRULES; i++) {
		const struct devrule *r = &allowed[i];
		/* Each block: the checks, then "return 1"; a failed
		 * check jumps past the block's end. */
		short len = r->minor == ANY_MINOR ? 4 : 5, k = 0;

		p[n++] = JNE(BPF_REG_2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR :
			     BPF_DEVCG_DEV_BLOCK, len - 1 - k++);
		p[n++] = JNE(BPF_REG_4, r->major, len - 1 - k++);
		if (r->minor != ANY_MINOR)
			p[n++] = JNE(BPF_REG_5, r->minor, len - 1 - k++);
		p[n++] = MOV64(BPF_REG_0, 1);
		p[n++] = EXIT();
	}
	p[n++] = MOV64(BPF_REG_0, 0);
	p[n++] = EXIT();
	return n;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int devcg_v2_apply(const char *dir, struct error *err)
{
	struct bpf_insn prog[4 + 5 * NRULES + 2];
	static char log[4096];
	union bpf_attr attr;
	int prog_fd, cg_fd, ret = 0;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uintptr_t)prog;
	attr.insn_cnt = build_prog(prog);
	attr.license = (uintptr_t)"GPL";
	prog_fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog_fd < 0 && errno == EACCES) {
		/* Rejected by the verifier: ask it why. */
		attr.log_buf = (uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		log[0] = '\0';
		prog_fd = sys_bpf(BPF_PROG_LOAD, &attr);
		if (prog_fd < 0)
			return err_set(err, "device cgroup: the BPF verifier "
				       "refused the device program: %.200s",
				       log);
	}
	if (prog_fd < 0)
		return err_sys(err, "device cgroup: loading the BPF device "
			       "program (bpf(BPF_PROG_LOAD) of a "
			       "BPF_PROG_TYPE_CGROUP_DEVICE program; does "
			       "this kernel have CONFIG_CGROUP_BPF?)");
	cg_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		ret = err_sys(err, "device cgroup: opening %s", dir);
	} else {
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = cg_fd;
		attr.attach_bpf_fd = prog_fd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		attr.attach_flags = BPF_F_ALLOW_MULTI;
		if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
			ret = err_sys(err, "device cgroup: attaching the BPF "
				      "device program to %s", dir);
		close(cg_fd);
	}
	close(prog_fd);
	return ret;
}
