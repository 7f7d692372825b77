//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Rampart runtime sensor: process exec, sensitive file opens, writes below
 * system directories, outbound connects, ptrace attach, setuid to root and
 * kernel module loads. Events are filtered here, in the kernel, and passed to
 * user space through one ring buffer; a reservation that fails is counted
 * per CPU in `lost` and reported by user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define COMM_LEN 16
#define PATH_LEN 256
#define ARGS_LEN 512
#define CGROUP_LEVELS 4
#define CGROUP_NAME_LEN 128

enum event_kind {
	KIND_EXEC = 1,
	KIND_OPEN = 2,
	KIND_CONNECT = 3,
	KIND_PTRACE = 4,
	KIND_SETUID = 5,
	KIND_MODULE = 6,
};

/* One event. Fields not used by a kind are zero. */
struct event {
	u64 ts_ns;
	u64 cgroup_id;
	u32 kind;
	u32 pid;         /* thread group id */
	u32 tid;
	u32 ppid;
	u32 uid;
	u32 gid;
	u32 flags;       /* open: f_flags; ptrace: request; module: init flags */
	u32 mode;        /* unused */
	s64 arg;         /* ptrace: target pid; connect: fd; open: dirfd; module: fd */
	u16 family;      /* connect: AF_INET or AF_INET6 */
	u16 port;        /* connect: host byte order */
	u32 args_len;    /* exec: bytes of args used */
	u8 addr[16];     /* connect: IPv4 in the first 4 bytes, or IPv6 */
	u32 cgroup_level;/* depth of the task's cgroup v2 (0: root) */
	u32 _pad;
	char comm[COMM_LEN];
	char pcomm[COMM_LEN];
	char cgroup[CGROUP_LEVELS][CGROUP_NAME_LEN]; /* leaf first */
	char path[PATH_LEN]; /* exec: executable; open: file */
	char args[ARGS_LEN]; /* exec: argv, NUL-separated */
};

/* Unused variable to export struct event's BTF for bpf2go -type event. */
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

/* Ring buffer reservations that failed (events lost), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

struct path_buf {
	char path[PATH_LEN];
};

/* Scratch for a path, per CPU (the BPF stack is 512 bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct path_buf);
} scratch SEC(".maps");

/* The sensor's own process: its events are dropped. */
const volatile u32 self_tgid = 0;

/* Batched wakeups: user space is woken only once this many bytes wait in
 * the ring buffer (it also polls on a short timer); 0 wakes it for every
 * event. A wakeup per event costs more than the event on busy nodes. */
const volatile u64 wakeup_bytes = 0;

#define BPF_RB_AVAIL_DATA 0
#define BPF_RB_NO_WAKEUP 1

static __always_inline u64 wakeup_flags(void)
{
	if (wakeup_bytes == 0 || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return 0;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void count_lost(void)
{
	u32 zero = 0;
	u64 *n = bpf_map_lookup_elem(&lost, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline int is_self(void)
{
	return self_tgid != 0 && (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	struct kernfs_node___pre615 *old = (void *)kn;
	return (void *)BPF_CORE_READ(old, parent);
}

/* reserve returns a zeroed event with the current task's identity and
 * cgroup filled in, or NULL (counted as lost). */
static __always_inline struct event *reserve(u32 kind)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return NULL;
	}
	/* Ring buffer memory is not zeroed: clear what may stay unwritten. */
	__builtin_memset(e, 0, offsetof(struct event, comm));
	e->pcomm[0] = 0;
	e->path[0] = 0;
	e->args[0] = 0;
#pragma unroll
	for (int i = 0; i < CGROUP_LEVELS; i++)
		e->cgroup[i][0] = 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u64 uid_gid = bpf_get_current_uid_gid();
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->pid = pid_tgid >> 32;
	e->tid = (u32)pid_tgid;
	e->uid = (u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	e->ppid = BPF_CORE_READ(parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->pcomm, parent, comm);

	struct cgroup *cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	e->cgroup_level = BPF_CORE_READ(cg, level);
	struct kernfs_node *kn = BPF_CORE_READ(cg, kn);
#pragma unroll
	for (int i = 0; i < CGROUP_LEVELS; i++) {
		if (!kn)
			break;
		struct kernfs_node *up = kn_parent(kn);
		if (!up)
			break; /* the root: no name */
		const char *name = BPF_CORE_READ(kn, name);
		bpf_probe_read_kernel_str(e->cgroup[i], CGROUP_NAME_LEN, name);
		kn = up;
	}
	return e;
}

/* ---- process exec ---- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (is_self())
		return 0;
	struct event *e = reserve(KIND_EXEC);
	if (!e)
		return 0;
	/* The path as given to execve (absolute after a PATH lookup); user
	 * space resolves a relative one. */
	const char *fn = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->path, PATH_LEN, fn);
	struct task_struct *task = (void *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	unsigned long len = end - start;
	if (end > start) {
		if (len > ARGS_LEN)
			len = ARGS_LEN;
		barrier_var(len);
		if (len <= ARGS_LEN && bpf_probe_read_user(e->args, len, (void *)start) == 0)
			e->args_len = len;
	}
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* ---- file opens ----
 * fentry/LSM hooks would give the resolved path (bpf_d_path) but are not
 * available everywhere (some kernels and sandboxes refuse tracing programs);
 * the syscall tracepoints give the path as the process passed it. Absolute
 * paths are classified here; relative ones are passed on only when they
 * name something sensitive, and user space resolves them against the
 * process's working directory.
 */

#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

/* has_prefix compares the NUL-terminated path with a string literal. */
#define has_prefix(buf, lit) prefix_eq(buf, lit, sizeof(lit) - 1)

static __always_inline int prefix_eq(const char *buf, const char *lit, int n)
{
	for (int i = 0; i < n; i++) {
		if (buf[i] != lit[i])
			return 0;
	}
	return 1;
}

#define SCAN_LEN 192

/* contains_ssh reports whether the path holds ".ssh/" or "authorized_keys"
 * ("authorized_keys2" too) anywhere. */
static __always_inline int contains_ssh(const char *buf, int len)
{
	for (int i = 0; i < SCAN_LEN; i++) {
		if (i >= len - 4)
			return 0;
		char c = buf[i & (PATH_LEN - 1)];
		if (c == '.' && buf[(i + 1) & (PATH_LEN - 1)] == 's' &&
		    buf[(i + 2) & (PATH_LEN - 1)] == 's' && buf[(i + 3) & (PATH_LEN - 1)] == 'h' &&
		    buf[(i + 4) & (PATH_LEN - 1)] == '/')
			return 1;
		if (c == 'a' && buf[(i + 1) & (PATH_LEN - 1)] == 'u' &&
		    buf[(i + 2) & (PATH_LEN - 1)] == 't' && buf[(i + 3) & (PATH_LEN - 1)] == 'h' &&
		    buf[(i + 4) & (PATH_LEN - 1)] == 'o')
			return 1;
	}
	return 0;
}

static __always_inline int sensitive(const char *p, int len)
{
	return has_prefix(p, "/etc/shadow") || has_prefix(p, "/etc/gshadow") ||
	       has_prefix(p, "/etc/sudoers") || has_prefix(p, "/etc/kubernetes/") ||
	       has_prefix(p, "/var/run/secrets/") || has_prefix(p, "/run/secrets/") ||
	       has_prefix(p, "/var/lib/kubelet/pki/") || contains_ssh(p, len);
}

static __always_inline int system_dir(const char *p)
{
	return has_prefix(p, "/etc/") || has_prefix(p, "/usr/bin/") ||
	       has_prefix(p, "/usr/sbin/") || has_prefix(p, "/usr/local/bin/") ||
	       has_prefix(p, "/bin/") || has_prefix(p, "/sbin/");
}

/* relative_candidate: a relative path worth resolving in user space. */
static __always_inline int relative_candidate(const char *p, int len)
{
	if (contains_ssh(p, len))
		return 1;
	/* "shadow", "gshadow", "sudoers", "secrets/…", "kubernetes/…" and
	 * paths going up ("../etc/…") are resolved too. */
	return has_prefix(p, "shadow") || has_prefix(p, "gshadow") ||
	       has_prefix(p, "sudoers") || has_prefix(p, "secrets/") ||
	       has_prefix(p, "kubernetes/") || has_prefix(p, "../") ||
	       has_prefix(p, "etc/") || has_prefix(p, "./");
}

static __always_inline int open_event(s64 dfd, const char *upath, u32 flags)
{
	if (is_self())
		return 0;
	u32 zero = 0;
	struct path_buf *buf = bpf_map_lookup_elem(&scratch, &zero);
	if (!buf)
		return 0;
	long n = bpf_probe_read_user_str(buf->path, PATH_LEN, upath);
	if (n <= 1)
		return 0;
	if (buf->path[0] == '/') {
		if (!sensitive(buf->path, n) && !((flags & WRITE_FLAGS) && system_dir(buf->path)))
			return 0;
	} else if (!relative_candidate(buf->path, n)) {
		return 0;
	}
	struct event *e = reserve(KIND_OPEN);
	if (!e)
		return 0;
	e->flags = flags;
	e->arg = dfd;
	__builtin_memcpy(e->path, buf->path, PATH_LEN);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

#define AT_FDCWD -100

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_event((s64)(int)ctx->args[0], (const char *)ctx->args[1], (u32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_open")
int on_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_event(AT_FDCWD, (const char *)ctx->args[0], (u32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int on_creat(struct trace_event_raw_sys_enter *ctx)
{
	return open_event(AT_FDCWD, (const char *)ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC);
}

struct open_how {
	u64 flags;
	u64 mode;
	u64 resolve;
};

SEC("tracepoint/syscalls/sys_enter_openat2")
int on_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	if (bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]) != 0)
		return 0;
	return open_event((s64)(int)ctx->args[0], (const char *)ctx->args[1], (u32)how.flags);
}

/* ---- outbound connect ---- */

struct sockaddr_any {
	u16 family;
	u16 port; /* network byte order */
	union {
		u32 v4;
		struct {
			u32 flowinfo;
			u8 v6[16];
		};
	};
};

SEC("tracepoint/syscalls/sys_enter_connect")
int on_connect(struct trace_event_raw_sys_enter *ctx)
{
	if (is_self())
		return 0;
	struct sockaddr_any sa = {};
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)ctx->args[1]) != 0)
		return 0;
	if (sa.family == 2) {
		if ((sa.v4 & 0xff) == 127) /* 127.0.0.0/8, network order */
			return 0;
	} else if (sa.family == 10) {
		u32 *w = (u32 *)sa.v6;
		if (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1))
			return 0; /* ::1 */
		if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff) && (w[3] & 0xff) == 127)
			return 0; /* ::ffff:127.0.0.0/104 */
	} else {
		return 0;
	}
	struct event *e = reserve(KIND_CONNECT);
	if (!e)
		return 0;
	e->family = sa.family;
	e->port = bpf_ntohs(sa.port);
	e->arg = (s64)ctx->args[0];
	if (sa.family == 2)
		__builtin_memcpy(e->addr, &sa.v4, 4);
	else
		__builtin_memcpy(e->addr, sa.v6, 16);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* ---- ptrace attach ---- */

#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

SEC("tracepoint/syscalls/sys_enter_ptrace")
int on_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = (long)ctx->args[0];
	if ((req != PTRACE_ATTACH && req != PTRACE_SEIZE) || is_self())
		return 0;
	struct event *e = reserve(KIND_PTRACE);
	if (!e)
		return 0;
	e->flags = (u32)req;
	e->arg = (s64)ctx->args[1];
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* ---- setuid to root from non-root ---- */

static __always_inline int to_root(u32 id)
{
	return id == 0;
}

static __always_inline int setuid_event(u32 nr_args, struct trace_event_raw_sys_enter *ctx)
{
	u32 uid = (u32)bpf_get_current_uid_gid();
	if (uid == 0)
		return 0;
	int hit = 0;
	for (u32 i = 0; i < 3; i++) {
		if (i < nr_args && to_root((u32)ctx->args[i]))
			hit = 1;
	}
	if (!hit || is_self())
		return 0;
	struct event *e = reserve(KIND_SETUID);
	if (!e)
		return 0;
	e->arg = 0;
	e->flags = nr_args;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int on_setuid(struct trace_event_raw_sys_enter *ctx)
{
	return setuid_event(1, ctx);
}

SEC("tracepoint/syscalls/sys_enter_setreuid")
int on_setreuid(struct trace_event_raw_sys_enter *ctx)
{
	return setuid_event(2, ctx);
}

SEC("tracepoint/syscalls/sys_enter_setresuid")
int on_setresuid(struct trace_event_raw_sys_enter *ctx)
{
	return setuid_event(3, ctx);
}

/* ---- kernel module loads (absent when the kernel has no CONFIG_MODULES) ---- */

SEC("tracepoint/syscalls/sys_enter_init_module")
int on_init_module(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = reserve(KIND_MODULE);
	if (!e)
		return 0;
	e->arg = -1;
	e->flags = 0;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int on_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = reserve(KIND_MODULE);
	if (!e)
		return 0;
	e->arg = (s64)(int)ctx->args[0];
	e->flags = (u32)ctx->args[2];
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}
