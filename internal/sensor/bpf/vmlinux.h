/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal kernel type definitions for Rampart's sensor programs, written by
 * hand instead of a full bpftool-generated vmlinux.h. Every struct carries
 * preserve_access_index, so field offsets are relocated (CO-RE) against the
 * running kernel's BTF (/sys/kernel/btf/vmlinux) at load time: only the
 * field names and types below must match the kernel, not the layout.
 */
#ifndef __RAMPART_VMLINUX_H__
#define __RAMPART_VMLINUX_H__

typedef unsigned char __u8;
typedef short unsigned int __u16;
typedef unsigned int __u32;
typedef long long unsigned int __u64;
typedef signed char __s8;
typedef short int __s16;
typedef int __s32;
typedef long long int __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef _Bool bool;
enum { false = 0, true = 1 };

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

struct kernfs_node {
	const char *name;
	struct kernfs_node *__parent; /* renamed from parent in 6.15 */
} __attribute__((preserve_access_index));

/* kernfs_node before Linux 6.15: the parent field had no underscores. */
struct kernfs_node___pre615 {
	struct kernfs_node___pre615 *parent;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
	int level;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp;
} __attribute__((preserve_access_index));

struct mm_struct {
	long unsigned int arg_start;
	long unsigned int arg_end;
} __attribute__((preserve_access_index));

struct task_struct {
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	char comm[16];
	struct mm_struct *mm;
	struct css_set *cgroups;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *filename;
} __attribute__((preserve_access_index));

/* The fixed record of the syscalls:sys_enter_* tracepoints (not relocated:
 * it is the tracepoint ABI). */
struct trace_event_raw_sys_enter {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
	long int id;
	long unsigned int args[6];
};

#endif /* __RAMPART_VMLINUX_H__ */
