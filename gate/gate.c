//go:build ignore

// gate.c: the bpf2go-signed kernel gate, two BPF-LSM programs (Linux 5.11+
// with the BPF LSM active: "bpf" in /sys/kernel/security/lsm).
//
//   lsm/bpf       runs at the entry of every bpf(2) command. It records the
//                 command in task-local storage, so that gate_prog can tell
//                 a load from an fd-by-id or pin lookup, and it refuses
//                 commands that would change the gate's own objects (map
//                 writes, freezes, link detach/update) from any process but
//                 the gate's owner.
//   lsm/bpf_prog  runs whenever the kernel creates a program fd. For
//                 BPF_PROG_LOAD (after verification, with the tag computed
//                 and the id allocated) it looks the program's digest up in
//                 the allow set and refuses (-EPERM: the load fails and the
//                 program is freed) what is not there. Fd-by-id and pin
//                 lookups pass.
//
// The key of the allow set is the full 32-byte SHA-256 digest where the
// kernel keeps it in struct bpf_prog (Linux 6.18+: digest[32] in a union
// with tag[8]), else the 8-byte tag padded with zeros (SHA-1 before 6.18).
// Kernel structures are read with CO-RE from minimal definitions, so one
// object runs on every kernel with BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1
#define KEY_SIZE 32
#define TAG_SIZE 8

/* Minimal kernel structures; CO-RE finds the real offsets. */
struct bpf_prog_aux {
	__u32 id;
	char name[16];
} __attribute__((preserve_access_index));

struct bpf_prog {
	enum bpf_prog_type type;
	__u8 tag[TAG_SIZE];
	struct bpf_prog_aux *aux;
} __attribute__((preserve_access_index));

/* Linux 6.18+: union { u8 digest[32]; u8 tag[8]; } */
struct bpf_prog___digest {
	__u8 digest[KEY_SIZE];
} __attribute__((preserve_access_index));

struct bpf_map {
	__u32 id;
} __attribute__((preserve_access_index));

struct bpf_link {
	__u32 id;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct task_struct {
	struct files_struct *files;
} __attribute__((preserve_access_index));

/* Modes, written by the owner into config. */
#define MODE_ENFORCE 0
#define MODE_AUDIT 1

/* Kinds of objects in self_ids. */
#define SELF_MAP 1
#define SELF_LINK 2

/* Event kinds sent to the ring buffer. */
#define EV_LOAD_REFUSED 1 /* enforce: load refused with EPERM */
#define EV_LOAD_AUDIT 2   /* audit: load not in the allow set, allowed */
#define EV_SELF_REFUSED 3 /* a command on the gate's own objects, refused */
#define EV_NO_CMD 4       /* bpf_prog hook without a recorded command */

/* Counters, indexes of the per-CPU array stats. */
enum {
	STAT_ALLOWED = 0, /* loads in the allow set */
	STAT_REFUSED,     /* loads refused (enforce) */
	STAT_AUDITED,     /* loads not in the allow set, allowed (audit) */
	STAT_SELF,        /* commands on the gate's objects refused */
	STAT_LOST,        /* events the ring buffer had no room for */
	STAT_MAX,
};

struct config {
	__u32 mode;       /* MODE_ENFORCE or MODE_AUDIT */
	__u32 owner_tgid; /* the gate process: may change the gate's objects */
};

struct self_key {
	__u32 kind; /* SELF_MAP or SELF_LINK */
	__u32 id;
};

struct event {
	__u32 kind;
	__u32 cmd;
	__u32 tgid;
	__u32 uid;
	__u32 prog_id;
	__u32 prog_type;
	__u32 target_id;  /* EV_SELF_REFUSED: the map or link id */
	__u32 key_size;   /* 32: full digest, 8: tag */
	__u8 key[KEY_SIZE];
	char comm[16];
	char prog_name[16];
};

struct task_cmd {
	__u32 cmd;
	__u32 valid;
};

/* Emits struct event into BTF for the generated Go type. Read-only data:
 * sealed and frozen like all .rodata. */
const struct event *const event_type_anchor __attribute__((used)) = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct config);
	__uint(max_entries, 1);
} config SEC(".maps");

/* The allow set: one slot holding the current hash map of digests. A
 * trust-directory change fills a new inner map and swaps the slot, so a
 * lookup sees either the whole old set or the whole new one. */
struct allow_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, KEY_SIZE);
	__type(value, __u32);
	__uint(max_entries, 65536);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, 1);
	__array(values, struct allow_inner);
} allow SEC(".maps");

/* The ids of the gate's own maps and links. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct self_key);
	__type(value, __u32);
	__uint(max_entries, 64);
} self_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_cmd);
} task_cmds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline struct event *new_event(__u32 kind, __u32 cmd)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(STAT_LOST);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	__u64 uid_gid = bpf_get_current_uid_gid();
	e->kind = kind;
	e->cmd = cmd;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32)uid_gid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* id_of_fd returns the id of the map or link behind fd in the current
 * task, read from the object the file points to; 0 when there is none. A
 * file that is neither gives an arbitrary value read from its private
 * data; the command then fails in the kernel anyway.
 *
 * The walk to the fd table is made of direct BTF loads; only the three
 * reads through plain pointers use a helper, bpf_probe_read (not
 * bpf_probe_read_kernel: cilium/ebpf replaces that one with bpf_probe_read
 * when its feature probe, an unsigned program, is refused by a running
 * gate, and the program's digest would then depend on whether a gate
 * runs). */
static __always_inline __u32 id_of_fd(__u32 fd, __u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	if (!files)
		return 0;
	struct fdtable *fdt = files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *f = 0;
	if (bpf_probe_read(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	void *obj = BPF_PROBE_READ(f, private_data);
	if (!obj)
		return 0;
	if (kind == SELF_LINK)
		return BPF_PROBE_READ((struct bpf_link *)obj, id);
	return BPF_PROBE_READ((struct bpf_map *)obj, id);
}

SEC("lsm/bpf")
int BPF_PROG(gate_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	struct task_cmd *tc = bpf_task_storage_get(&task_cmds, bpf_get_current_task_btf(), 0,
						   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tc) {
		tc->cmd = cmd;
		tc->valid = 1;
	} else if (cmd == BPF_PROG_LOAD) {
		/* Without a record gate_prog could read a stale command:
		 * refuse the load rather than risk letting it pass. */
		struct config *c = get_config();
		if (!c || c->mode == MODE_ENFORCE) {
			count(STAT_REFUSED);
			return -EPERM;
		}
	}

	/* attr is a kernel copy of the command's attributes (BTF pointer):
	 * the fd is read with direct loads at UAPI offsets. */
	__u32 fd, kind;
	switch (cmd) {
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_DELETE_ELEM:
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
	case BPF_MAP_FREEZE:
		fd = attr->map_fd;
		kind = SELF_MAP;
		break;
	case BPF_MAP_UPDATE_BATCH:
	case BPF_MAP_DELETE_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		fd = attr->batch.map_fd;
		kind = SELF_MAP;
		break;
	case BPF_LINK_UPDATE:
		fd = attr->link_update.link_fd;
		kind = SELF_LINK;
		break;
	case BPF_LINK_DETACH:
		fd = attr->link_detach.link_fd;
		kind = SELF_LINK;
		break;
	default:
		return 0;
	}

	struct config *c = get_config();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (c && c->owner_tgid == tgid)
		return 0;
	struct self_key k = {.kind = kind, .id = id_of_fd(fd, kind)};
	if (!k.id || !bpf_map_lookup_elem(&self_ids, &k))
		return 0;
	count(STAT_SELF);
	struct event *e = new_event(EV_SELF_REFUSED, cmd);
	if (e) {
		e->target_id = k.id;
		bpf_ringbuf_submit(e, 0);
	}
	return -EPERM;
}

SEC("lsm/bpf_prog")
int BPF_PROG(gate_prog, struct bpf_prog *prog)
{
	struct task_cmd *tc = bpf_task_storage_get(&task_cmds, bpf_get_current_task_btf(), 0, 0);
	__u32 cmd = BPF_PROG_LOAD;
	int unknown = 1;
	if (tc && tc->valid) {
		cmd = tc->cmd;
		unknown = 0;
	}
	/* Fd-by-id and pin lookups of loaded programs pass: they create no
	 * program, and audits need them. */
	if (cmd != BPF_PROG_LOAD)
		return 0;

	__u8 key[KEY_SIZE] = {};
	__u32 key_size;
	/* Direct BTF loads (prog is a BTF pointer), no helper. */
	if (bpf_core_field_exists(((struct bpf_prog___digest *)0)->digest)) {
		key_size = KEY_SIZE;
		__builtin_memcpy(key, ((struct bpf_prog___digest *)prog)->digest, KEY_SIZE);
	} else {
		key_size = TAG_SIZE;
		__builtin_memcpy(key, prog->tag, TAG_SIZE);
	}

	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&allow, &zero);
	if (inner && !unknown && bpf_map_lookup_elem(inner, key)) {
		count(STAT_ALLOWED);
		return 0;
	}

	struct config *c = get_config();
	int enforce = !c || c->mode == MODE_ENFORCE;
	count(enforce ? STAT_REFUSED : STAT_AUDITED);
	struct event *e = new_event(unknown ? EV_NO_CMD : (enforce ? EV_LOAD_REFUSED : EV_LOAD_AUDIT), cmd);
	if (e) {
		struct bpf_prog_aux *aux = prog->aux;
		e->prog_id = aux->id;
		e->prog_type = prog->type;
		e->key_size = key_size;
		__builtin_memcpy(e->key, key, KEY_SIZE);
		__builtin_memcpy(e->prog_name, aux->name, sizeof(e->prog_name));
		bpf_ringbuf_submit(e, 0);
	}
	return enforce ? -EPERM : 0;
}

char __license[] SEC("license") = "GPL";
