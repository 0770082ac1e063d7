/* lxt-shim: the only C in lxt. It executes a plan that TypeScript resolved
 * (src/runtime/plan.ts) and makes no policy of its own. Plan format: records
 * "OP\0ARGC\0ARG1\0...ARGn\0" (see docs/ARCHITECTURE.md, "The shim").
 *
 *   lxt-shim start PLANFILE    clone init into new namespaces; stay as its monitor
 *   lxt-shim attach PLANFILE   enter a running container's namespaces and exec
 *   lxt-shim console SOCK N E  the terminal side of `lxt console` (escape Ctrl+E)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <linux/openat2.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <dirent.h>
#include <limits.h>
#include <termios.h>
#include <time.h>
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#define LXT_OPEN_TREE_CLONE 1
#define LXT_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define LXT_MOUNT_ATTR_IDMAP 0x00100000
struct lxt_mount_attr { unsigned long long attr_set, attr_clr, propagation, userns_fd; };
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

extern char **environ;

#define MAXREC 4096
#define MAXARG 256
struct rec { char *op; int argc; char **argv; };
static struct rec recs[MAXREC];
static int nrec;
static int status_fd = -1; /* JSON status lines to the caller */

static void status(const char *fmt, ...) {
	if (status_fd < 0) return;
	char buf[1024];
	va_list ap; va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(status_fd, buf, n) < 0) {}
}

static void jstr(char *out, size_t n, const char *s) { /* minimal JSON string escape */
	size_t j = 0;
	for (; *s && j + 2 < n; s++) {
		if (*s == '"' || *s == '\\') { out[j++] = '\\'; out[j++] = *s; }
		else if ((unsigned char)*s < 0x20) out[j++] = ' ';
		else out[j++] = *s;
	}
	out[j] = 0;
}

static int plain_errors; /* attach: errors go to stderr as text */
static void die(const char *step, const char *what) {
	int e = errno;
	if (plain_errors) {
		fprintf(stderr, "lxt attach: %s %s: %s\n", step, what ? what : "", strerror(e));
		_exit(e == ENOENT && !strcmp(step, "exec") ? 127 : 126);
	}
	char w[512];
	jstr(w, sizeof w, what ? what : "");
	/* ECANCELED: WHAT is the whole message (a failed hook) */
	if (e == ECANCELED) status("{\"event\":\"error\",\"step\":\"%s\",\"errno\":%d,\"msg\":\"%s\"}", step, e, w);
	else status("{\"event\":\"error\",\"step\":\"%s\",\"errno\":%d,\"msg\":\"%s: %s\"}", step, e, w, strerror(e));
	_exit(126);
}

/* Plan records OP \0 ARGC \0 ARG... from BUF into recs; NULL, or what is wrong. */
static const char *parse_plan(char *buf, size_t len) {
	char *p = buf, *end = buf + len;
	nrec = 0;
	while (p < end && nrec < MAXREC) {
		struct rec *r = &recs[nrec++];
		r->op = p; p += strnlen(p, end - p) + 1;
		if (p >= end) return "truncated record";
		r->argc = atoi(p); p += strnlen(p, end - p) + 1;
		if (r->argc < 0 || r->argc > MAXARG) return "bad argc";
		r->argv = calloc(r->argc + 1, sizeof(char *));
		for (int i = 0; i < r->argc; i++) {
			if (p >= end) return "truncated args";
			r->argv[i] = p; p += strnlen(p, end - p) + 1;
		}
	}
	return NULL;
}
static void load_plan(const char *path) { /* a file, or a pipe (/dev/stdin): read to EOF */
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0; /* "-": stdin */
	if (fd < 0) die("plan", path);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) die("plan", "malloc");
	for (;;) {
		if (len == cap && !(buf = realloc(buf, (cap *= 2) + 1))) die("plan", "realloc");
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) die("plan", "read");
		if (r == 0) break;
		len += r;
	}
	close(fd);
	buf[len] = 0;
	const char *bad = parse_plan(buf, len);
	if (bad) { errno = EINVAL; die("plan", bad); }
}

static const char *hdr_arg(const char *op, int n) { /* arg n of the first record named op */
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, op) && recs[i].argc > n) return recs[i].argv[n];
	return NULL;
}
static const char *hdr(const char *op) { return hdr_arg(op, 0); }
static int has_op(const char *op) {
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, op)) return 1;
	return 0;
}

static void write_file(const char *path, const char *val, const char *step) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) die(step, path);
	if (write(fd, val, strlen(val)) < 0) die(step, path);
	close(fd);
}

/* ---- the monitor's state file: "STATE INITPID MONITORPID MONSTART EXIT" ---- */
static char rundir[1024];
/* /proc/PID/stat (PID 0: ours): the state letter (field 3) and the start
 * time (field 22); -1 when the process is gone. */
static int proc_stat(int pid, char *state, unsigned long long *start) {
	char path[64], b[1024];
	if (pid) snprintf(path, sizeof path, "/proc/%d/stat", pid); else snprintf(path, sizeof path, "/proc/self/stat");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, b, sizeof b - 1); close(fd);
	if (n <= 0) return -1;
	b[n] = 0;
	char *p = strrchr(b, ')'); /* after the command name, which may hold spaces */
	if (!p || p[1] != ' ') return -1;
	*state = p[2];
	int field = 2; char *save = NULL;
	for (char *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save)) if (++field == 22) { *start = strtoull(t, 0, 10); return 0; }
	return -1;
}
static unsigned long long self_start(void) {
	char st; unsigned long long v = 0;
	return proc_stat(0, &st, &v) == 0 ? v : 0;
}
static void set_state(const char *state, pid_t init, int exitst) {
	if (!rundir[0]) return;
	char tmp[1100], fin[1100], line[256];
	snprintf(tmp, sizeof tmp, "%s/.state.tmp", rundir);
	snprintf(fin, sizeof fin, "%s/state", rundir);
	int n = snprintf(line, sizeof line, "%s %d %d %llu %d\n", state, (int)init, (int)getpid(), self_start(), exitst);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return;
	if (write(fd, line, n) < 0) {}
	close(fd);
	rename(tmp, fin);
}

/* ---- ptys for the console and ttys, held by the monitor ---- */
#define MAXPTY 64
static int pty_master[MAXPTY];
static int pty_num[MAXPTY]; /* LXC's tty number: 0 the console, N ttyN */
static int con = -1;        /* index of the console's pty */
static char pty_slave[MAXPTY][64];
static int npty;
static int open_pty(void) {
	if (npty >= MAXPTY) { errno = EMFILE; die("pty", "too many ttys"); }
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) die("pty", "posix_openpt");
	char *s = ptsname(m);
	if (!s) die("pty", "ptsname");
	snprintf(pty_slave[npty], sizeof pty_slave[npty], "%s", s);
	fcntl(m, F_SETFL, O_NONBLOCK);
	/* the monitor keeps a slave open: the master never hangs up while the
	 * container's side is closed (before init opens it, between gettys) */
	int sfd = open(s, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0) die("pty", s);
	/* ptyowner UID GID: a user-namespace container's root must own its terminals.
	 * Best effort: on a host whose /dev/pts is read-only (this test VM) the
	 * terminals stay the host's and only the container's console is lost. */
	const char *po = hdr_arg("ptyowner", 0), *pg = hdr_arg("ptyowner", 1);
	if (po && pg && fchown(sfd, atoi(po), atoi(pg)) < 0) {}
	pty_master[npty] = m;
	return npty++;
}

/* Opens REL inside ROOT with every symlink resolved as if ROOT were "/",
 * so a symlink in the container's rootfs cannot point a mount at the host.
 * strict: no symlink at all on the way (what the system mounts and device
 * nodes get: /proc, /sys, /dev must be real directories of the rootfs). */
static int open_in_root(const char *root, const char *rel, int flags, int strict) {
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) return -1;
	struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = strict ? RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS : RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, rfd, rel[0] ? rel : ".", &how, sizeof how);
	int e = errno; close(rfd); errno = e;
	return fd;
}

static void die_path(const char *step, const char *rel) {
	if (errno != ELOOP && errno != EXDEV) die(step, rel);
	char w[600];
	snprintf(w, sizeof w, "refusing %s on `%s` in the rootfs: it is, or passes through, a symbolic link", step, rel);
	errno = ECANCELED;
	die(step, w);
}

/* mkdir -p of REL inside ROOT, one component at a time, never following a symlink out. */
static void mkdir_in_root(const char *root, const char *rel, int file, int strict) {
	char path[4096], *p;
	snprintf(path, sizeof path, "%s", rel);
	for (p = path; ; p++) {
		int last = *p == 0;
		if (*p == '/' || last) {
			char c = *p; *p = 0;
			if (path[0]) {
				char *slash = strrchr(path, '/');
				char parent[4096];
				snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - path) : 0, path);
				int dfd = open_in_root(root, parent, O_PATH | O_DIRECTORY, strict);
				if (dfd < 0) die_path("create", path);
				const char *name = slash ? slash + 1 : path;
				if (last && file) {
					/* O_EXCL: an existing node (a device in the rootfs) is never opened */
					int f = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
					if (f < 0 && errno != EEXIST) die_path("create=file", path);
					if (f >= 0) close(f);
				} else if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST) die("create=dir", path);
				close(dfd);
			}
			*p = c;
			if (last) break;
		}
	}
}

static int has_arg(struct rec *r, int from, const char *word) {
	for (int j = from; j < r->argc; j++) if (!strcmp(r->argv[j], word)) return 1;
	return 0;
}

/* lxc.seccomp.profile, compiled to classic BPF by src/security/seccomp.ts.
 * The file is read with the plan (the host's paths are gone after pivot_root
 * or setns) and the filter loaded as late as possible: just before the ids
 * and exec, while the process still has CAP_SYS_ADMIN, so no_new_privs is
 * not required. */
static struct sock_filter seccomp_prog[4096];
static unsigned short seccomp_len;
static void preload_seccomp(void) {
	const char *file = hdr("seccomp");
	if (!file) return;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) die("seccomp", file);
	ssize_t n = read(fd, seccomp_prog, sizeof seccomp_prog);
	close(fd);
	if (n <= 0 || n % (ssize_t)sizeof seccomp_prog[0]) { errno = EINVAL; die("seccomp", file); }
	seccomp_len = (unsigned short)(n / sizeof seccomp_prog[0]);
}
static void load_seccomp(void) {
	struct sock_fprog prog = { .len = seccomp_len, .filter = seccomp_prog };
	if (!seccomp_len) { errno = EINVAL; die("seccomp", "no filter was read"); }
	if (syscall(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, &prog) < 0) die("seccomp", "load the filter");
}

/* A free loop device bound to FILE with autoclear, so it is released when
 * the container's mount namespace (holding the only mount) goes away.
 * Returns (loop number << 16) | fd. */
static int attach_loop(const char *file, int ro) {
	int ffd = open(file, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (ffd < 0) die("loop", file);
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) die("loop", "/dev/loop-control");
	for (int tries = 0; tries < 10; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) die("loop", "no free loop device");
		char dev[64]; snprintf(dev, sizeof dev, "/dev/loop%d", n);
		int lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) die("loop", dev);
		struct loop_config lc; memset(&lc, 0, sizeof lc);
		lc.fd = (unsigned)ffd;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
		snprintf((char *)lc.info.lo_file_name, sizeof lc.info.lo_file_name, "%s", file);
		if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0) { close(ffd); close(ctl); return (n << 16) | lfd; }
		int e = errno; close(lfd);
		if (e != EBUSY) { errno = e; die("loop", dev); } /* EBUSY: taken meanwhile, try the next free one */
	}
	errno = EBUSY; die("loop", "no free loop device after 10 tries");
	return -1;
}

/* An lxc.hook.* run inside the container's namespaces (pre-mount, mount,
 * autodev, start): sh -c CMD with the hook environment; a failure aborts. */
static void run_hook(const char *type, const char *cmd, char **env) {
	pid_t h = fork();
	if (h < 0) die("hook", type);
	if (h == 0) {
		char *av[] = { "sh", "-c", (char *)cmd, NULL };
		execve("/bin/sh", av, env);
		_exit(127);
	}
	int st;
	while (waitpid(h, &st, 0) < 0) if (errno != EINTR) die("hook", type);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char w[700];
		if (WIFEXITED(st)) snprintf(w, sizeof w, "%s hook `%s` exited with status %d", type, cmd, WEXITSTATUS(st));
		else snprintf(w, sizeof w, "%s hook `%s` was killed by signal %d", type, cmd, WTERMSIG(st));
		errno = ECANCELED;
		die("hook", w);
	}
}

/* ---- the child: executes the plan's operations in order ---- */
static int sync_pipe[2], barrier_pipe[2];
static int mnt_sock[2] = { -1, -1 }; /* monitor -> child: detached mounts (idmapped rootfs) */

/* Up to 2 fds and an int over a unix socket (SCM_RIGHTS). */
static int send_fds(int sock, const int *fds, int n, int val) {
	struct iovec io = { &val, sizeof val };
	union { struct cmsghdr h; char b[CMSG_SPACE(2 * sizeof(int))]; } u;
	memset(&u, 0, sizeof u);
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	return sendmsg(sock, &m, 0) == (ssize_t)sizeof val ? 0 : -1;
}

/* Returns how many fds came (into fds[], at most 2), or -1; *val gets the int. */
static int recv_fds(int sock, int *fds, int *val, int flags) {
	struct iovec io = { val, sizeof *val };
	union { struct cmsghdr h; char b[CMSG_SPACE(2 * sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags) != (ssize_t)sizeof *val) return -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
	int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (n > 2) n = 2;
	memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
	return n;
}

/* A detached mount of FSTYPE from SRC — a block device, or with KIND "loop"
 * a file through a fresh loop device — with mount(2)-style DATA options: what
 * a child in a user namespace cannot mount itself, made by the monitor (host
 * root) and handed over. Returns the mount's fd, or -1 with errno. */
static int detached_fs(const char *kind, const char *src, const char *fstype, unsigned long flags, const char *data) {
	char dev[64];
	const char *source = src;
	int lfd = -1, e = 0, m = -1;
	if (!strcmp(kind, "loop")) {
		lfd = attach_loop(src, flags & MS_RDONLY);
		snprintf(dev, sizeof dev, "/dev/loop%d", lfd >> 16);
		source = dev;
	}
	int fs = (int)syscall(SYS_fsopen, fstype, 1 /* FSOPEN_CLOEXEC */);
	if (fs < 0) { e = errno; goto out; }
	if (syscall(SYS_fsconfig, fs, 1 /* SET_STRING */, "source", source, 0) < 0) { e = errno; goto out; }
	if (flags & MS_RDONLY && syscall(SYS_fsconfig, fs, 0 /* SET_FLAG */, "ro", NULL, 0) < 0) { e = errno; goto out; }
	if (data && *data) {
		char *d = strdup(data), *save = NULL;
		for (char *o = strtok_r(d, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(o, '=');
			if (eq) *eq = 0;
			if (syscall(SYS_fsconfig, fs, eq ? 1 : 0, o, eq ? eq + 1 : NULL, 0) < 0) { e = errno; free(d); goto out; }
		}
		free(d);
	}
	if (syscall(SYS_fsconfig, fs, 6 /* CMD_CREATE */, NULL, NULL, 0) < 0) { e = errno; goto out; }
	m = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, flags & MS_RDONLY ? 1 /* MOUNT_ATTR_RDONLY */ : 0);
	if (m < 0) e = errno;
out:
	if (fs >= 0) close(fs);
	if (lfd >= 0) close(lfd & 0xffff); /* autoclear: the device goes with the mount */
	errno = e;
	return m;
}

/* A detached copy of the mount at SRC, idmapped through the user namespace
 * of USERNS_FD (lxc.rootfs.options = idmap=container): on-disk 0 is the
 * container's root. Returns the mount's fd, or -1 with errno. */
static int idmapped_tree(const char *src, int userns_fd) {
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, src, LXT_OPEN_TREE_CLONE | O_CLOEXEC);
	if (fd < 0) return -1;
	struct lxt_mount_attr at = { LXT_MOUNT_ATTR_IDMAP, 0, 0, (unsigned long long)userns_fd };
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &at, sizeof at) < 0) { int e = errno; close(fd); errno = e; return -1; }
	return fd;
}

static int run_ops(int execute_mode) {
	char **envp = calloc(MAXREC, sizeof(char *)), **henv = calloc(MAXREC, sizeof(char *));
	int nenv = 0, nhenv = 0, pty_i = 0;
	for (int i = 0; i < nrec; i++) {
		struct rec *r = &recs[i];
		char **a = r->argv;
		/* the child moves itself: writing "0" to v1 `tasks` skips the global
		 * threadgroup lock (an RCU grace period) that moving another pid takes.
		 * In a new user namespace its credentials are still the host's here. */
		if (!strcmp(r->op, "join")) write_file(a[0], "0", "cgroup-join");
		else if (!strcmp(r->op, "setns")) { /* lxc.namespace.share.*: PATH TYPE */
			int fd = open(a[0], O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, atoi(a[1])) < 0) die("share namespace", a[0]);
			close(fd);
		} else if (!strcmp(r->op, "nsroot")) { /* become root of the new user namespace (its maps are written) */
			if (setgid(0) < 0) die("setgid", "0 in the user namespace");
			if (setuid(0) < 0) die("setuid", "0 in the user namespace");
			if (setgroups(0, NULL) < 0 && errno != EPERM) die("setgroups", "");
		} else if (!strcmp(r->op, "henv")) { if (nhenv < MAXREC - 1) henv[nhenv++] = a[0]; }
		else if (!strcmp(r->op, "hook")) run_hook(a[0], a[1], henv);
		else if (!strcmp(r->op, "exit")) _exit(atoi(a[0]));
		else if (!strcmp(r->op, "seccomp")) load_seccomp();
		else if (!strcmp(r->op, "unlink")) { if (unlink(a[0]) < 0 && errno != ENOENT) die("unlink", a[0]); }
		else if (!strcmp(r->op, "keyring")) { /* a fresh session keyring, not the host's (lxc.keyring.session) */
			if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL) < 0 && errno != ENOSYS && errno != EPERM && errno != EACCES) die("keyring", "join a new session keyring");
		} else if (!strcmp(r->op, "schedcore")) { /* lxc.sched.core: the container is its own core-scheduling domain */
			if (prctl(62 /* PR_SCHED_CORE */, 1 /* CREATE */, 0, 1 /* PIDTYPE_TGID */, 0) < 0) die("sched.core", "PR_SCHED_CORE_CREATE");
		} else if (!strcmp(r->op, "personality")) { if (personality(strtoul(a[0], 0, 0)) < 0) die("personality", a[0]); }
		else if (!strcmp(r->op, "barrier")) { /* wait while the host runs its part (start-host hooks) */
			status("{\"event\":\"barrier\"}");
			char x = 0;
			if (read(barrier_pipe[0], &x, 1) != 1 || x != 'g') _exit(126);
			close(barrier_pipe[0]);
		}
		else if (!strcmp(r->op, "unshare")) { if (unshare(atoi(a[0])) < 0) die("unshare", a[0]); }
		else if (!strcmp(r->op, "mount")) {
			unsigned long fl = strtoul(a[3], 0, 10);
			int optional = r->argc > 5 && !strcmp(a[5], "optional");
			if (mount(a[0][0] ? a[0] : NULL, a[1], a[2][0] ? a[2] : NULL, fl, a[4][0] ? a[4] : NULL) < 0) {
				if (optional) continue;
				char w[600]; snprintf(w, sizeof w, "mount %s on %s", a[0], a[1]); die("mount", w);
			}
		} else if (!strcmp(r->op, "mountin")) { /* ROOT REL SRC FSTYPE FLAGS DATA [optional] [strict] */
			int optional = has_arg(r, 6, "optional"), strict = has_arg(r, 6, "strict");
			int fd = open_in_root(a[0], a[1], O_PATH, strict);
			if (fd < 0) { if (optional) continue; die_path("mount", a[1]); }
			char fdpath[64]; snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
			if (mount(a[2][0] ? a[2] : NULL, fdpath, a[3][0] ? a[3] : NULL, strtoul(a[4], 0, 10), a[5][0] ? a[5] : NULL) < 0) {
				close(fd);
				if (optional) continue;
				char w[600]; snprintf(w, sizeof w, "mount %s on %s", a[2], a[1]); die("mount", w);
			}
			close(fd);
		} else if (!strcmp(r->op, "mountloop")) { /* FILE TARGET FSTYPE FLAGS DATA: a loop-backed rootfs */
			int lfd = attach_loop(a[0], strtoul(a[3], 0, 10) & MS_RDONLY);
			char dev[64]; snprintf(dev, sizeof dev, "/dev/loop%d", lfd >> 16);
			if (mount(dev, a[1], a[2], strtoul(a[3], 0, 10), a[4][0] ? a[4] : NULL) < 0) { char w[600]; snprintf(w, sizeof w, "mount %s (%s) on %s", a[0], dev, a[1]); die("mount", w); }
			close(lfd & 0xffff); /* autoclear: the device goes when the mount does */
		} else if (!strcmp(r->op, "recvmount")) { /* TARGET: a mount the monitor made (storemount, idmapmount), moved onto TARGET */
			int fd = -1, v = 0;
			if (recv_fds(mnt_sock[1], &fd, &v, 0) != 1) die("mount", "receive the mount from the monitor");
			if (syscall(SYS_move_mount, fd, "", AT_FDCWD, a[0], LXT_MOVE_MOUNT_F_EMPTY_PATH) < 0) die("mount", a[0]);
			close(fd);
		} else if (!strcmp(r->op, "mkdirin")) mkdir_in_root(a[0], a[1], 0, has_arg(r, 2, "strict"));
		else if (!strcmp(r->op, "mkfilein")) mkdir_in_root(a[0], a[1], 1, has_arg(r, 2, "strict"));
		else if (!strcmp(r->op, "mkdir")) {
			if (mkdir(a[0], strtoul(a[1], 0, 8)) < 0 && errno != EEXIST) die("mkdir", a[0]);
		} else if (!strcmp(r->op, "mkfile")) {
			int fd = open(a[0], O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0) die("mkfile", a[0]);
			close(fd);
		} else if (!strcmp(r->op, "mknod")) {
			unlink(a[0]);
			if (mknod(a[0], strtoul(a[1], 0, 8), makedev(atoi(a[2]), atoi(a[3]))) < 0) die("mknod", a[0]);
		} else if (!strcmp(r->op, "symlink")) {
			unlink(a[1]);
			if (symlink(a[0], a[1]) < 0) die("symlink", a[1]);
		} else if (!strcmp(r->op, "pty")) { /* ROOT REL N: bind the next monitor-held pty slave onto REL */
			if (pty_i >= npty) { errno = EINVAL; die("pty", "no pty allocated"); }
			mkdir_in_root(a[0], a[1], 1, 1);
			int fd = open_in_root(a[0], a[1], O_PATH, 1);
			if (fd < 0) die_path("pty", a[1]);
			char fdpath[64]; snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
			if (mount(pty_slave[pty_i], fdpath, NULL, MS_BIND, NULL) < 0) die("pty", a[1]);
			close(fd);
			pty_i++;
		} else if (!strcmp(r->op, "ptyin")) { /* ROOT REL N: a pty of the container's own devpts (its root owns
			 * it, which a user namespace needs) bound on REL; master and a slave go to the monitor */
			int m = open_in_root(a[0], "dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 1);
			if (m < 0) die_path("pty", "dev/pts/ptmx");
			int unlock = 0;
			if (ioctl(m, TIOCSPTLCK, &unlock) < 0) die("pty", "unlock");
			int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
			if (sl < 0) die("pty", "open the slave");
			mkdir_in_root(a[0], a[1], 1, 1);
			int fd = open_in_root(a[0], a[1], O_PATH, 1);
			if (fd < 0) die_path("pty", a[1]);
			char src[64], dst[64];
			snprintf(src, sizeof src, "/proc/self/fd/%d", sl);
			snprintf(dst, sizeof dst, "/proc/self/fd/%d", fd);
			if (mount(src, dst, NULL, MS_BIND, NULL) < 0) die("pty", a[1]);
			int two[2] = { m, sl };
			if (send_fds(mnt_sock[1], two, 2, atoi(a[2])) < 0) die("pty", "hand the terminal to the monitor");
			close(fd); close(sl); close(m);
		} else if (!strcmp(r->op, "pivot")) {
			if (chdir(a[0]) < 0) die("pivot_root", a[0]);
			if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root", a[0]);
			if (umount2(".", MNT_DETACH) < 0) die("pivot_root", "detach old root");
			if (chdir("/") < 0) die("pivot_root", "chdir /");
		} else if (!strcmp(r->op, "hostname")) { if (sethostname(a[0], strlen(a[0])) < 0) die("sethostname", a[0]); }
		else if (!strcmp(r->op, "write")) write_file(a[0], a[1], "write");
		else if (!strcmp(r->op, "rlimit")) {
			struct rlimit rl = { strtoull(a[1], 0, 10), strtoull(a[2], 0, 10) };
			if (!strcmp(a[1], "-1")) rl.rlim_cur = RLIM_INFINITY;
			if (!strcmp(a[2], "-1")) rl.rlim_max = RLIM_INFINITY;
			if (setrlimit(atoi(a[0]), &rl) < 0) die("setrlimit", a[0]);
		} else if (!strcmp(r->op, "capdrop")) {
			/* bounding set: exec gives root init permitted = inheritable | bounding, so
			 * the dropped ones also leave the inheritable set, and no ambient ones stay */
			struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
			struct __user_cap_data_struct d[2];
			if (syscall(SYS_capget, &h, d) < 0) die("capabilities", "capget");
			for (int j = 0; j < r->argc; j++) {
				int c = atoi(a[j]);
				if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) die("capabilities", a[j]);
				if (c < 64) d[c / 32].inheritable &= ~(1u << (c % 32));
			}
			if (syscall(SYS_capset, &h, d) < 0) die("capabilities", "capset");
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die("capabilities", "clear the ambient set");
		} else if (!strcmp(r->op, "nonewprivs")) { if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs", ""); }
		else if (!strcmp(r->op, "ids")) { /* gid uid groups... */
			gid_t g[MAXARG]; int ng = 0;
			for (int j = 2; j < r->argc; j++) g[ng++] = atoi(a[j]);
			if (setgroups(ng, g) < 0 && errno != EPERM) die("setgroups", "");
			if (setgid(atoi(a[0])) < 0) die("setgid", a[0]);
			if (setuid(atoi(a[1])) < 0) die("setuid", a[1]);
		} else if (!strcmp(r->op, "chdir")) { if (chdir(a[0]) < 0) die("chdir", a[0]); }
		else if (!strcmp(r->op, "env")) envp[nenv++] = a[0];
		else if (!strcmp(r->op, "lo")) {
			int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			struct ifreq ifr; memset(&ifr, 0, sizeof ifr); strcpy(ifr.ifr_name, "lo");
			if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) die("loopback", "lo");
			ifr.ifr_flags |= IFF_UP;
			if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) die("loopback", "lo up");
			close(sk);
		}
		else if (!strcmp(r->op, "exec")) {
			/* close every fd but 0,1,2 and the status pipe (CLOEXEC) */
			if (status_fd > 3) syscall(SYS_close_range, 3, status_fd - 1, 0);
			syscall(SYS_close_range, status_fd >= 3 ? status_fd + 1 : 3, ~0U, 0);
			if (!execute_mode) {
				status("{\"event\":\"exec\"}");
				environ = envp;
				execvp(a[0], a);
				die("exec", a[0]);
			}
			/* execute: PID 1 is this minimal init; the command runs as PID 2 */
			pid_t c = fork();
			if (c < 0) die("fork", "");
			if (c == 0) {
				signal(SIGTERM, SIG_DFL);
				environ = envp;
				execvp(a[0], a);
				fprintf(stderr, "lxt: exec %s: %s\n", a[0], strerror(errno));
				_exit(127);
			}
			status("{\"event\":\"exec\"}");
			close(status_fd);
			sigset_t all; sigfillset(&all);
			sigprocmask(SIG_BLOCK, &all, NULL);
			for (;;) {
				int sig;
				siginfo_t si;
				struct timespec ts = { 0, 50000000 };
				sig = sigtimedwait(&all, &si, &ts);
				if (sig > 0 && sig != SIGCHLD) kill(c, sig);
				int st; pid_t w;
				while ((w = waitpid(-1, &st, WNOHANG)) > 0)
					if (w == c) _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			}
		}
	}
	errno = EINVAL;
	die("plan", "no exec operation");
	return 1;
}

static pid_t child_pid;
static void fwd(int sig) { if (child_pid > 0) kill(child_pid, sig); }

/* ---- the monitor's console: pty 0 is /dev/console, 1..n the ttys ---- */
static int client_of[MAXPTY];          /* console client attached to pty i, or -1 */
static int log_fd = -1, log_rotate;     /* lxc.console.logfile, .size, .rotate */
static long long log_max, log_size;
static char log_path[1024];
static void log_out(const char *b, ssize_t n) {
	if (log_fd < 0 || n <= 0) return;
	if (log_max > 0 && log_size + n > log_max) {
		if (log_rotate) {
			char old[1100]; snprintf(old, sizeof old, "%s.1", log_path);
			rename(log_path, old); close(log_fd);
			log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		} else if (ftruncate(log_fd, 0) < 0) {}
		log_size = 0;
		if (log_fd < 0) return;
	}
	if (write(log_fd, b, n) > 0) log_size += n;
}

/* ---- the control socket: one request line per connection ----
 *   state            -> "STATE INITPID"
 *   kill SIG         -> "ok"             signal init
 *   stop SIG MS      -> "ok"             STOPPING, signal init, SIGKILL after MS (-1: never)
 *   console N        -> "ok" then raw bytes both ways with pty N, or "err ..." */
#define MAXCLI 32
static struct { int fd; int tty; } cli[MAXCLI];
static char cur_state[16] = "STARTING";
static long long kill_deadline; /* ms, CLOCK_MONOTONIC; 0 = none */
static long long now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000LL + t.tv_nsec / 1000000; }
static void cli_close(int i) {
	if (cli[i].tty >= 0 && client_of[cli[i].tty] == cli[i].fd) client_of[cli[i].tty] = -1;
	close(cli[i].fd); cli[i].fd = -1; cli[i].tty = -1;
}
static void reply(int fd, const char *fmt, ...) {
	char b[256]; va_list ap; va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b, fmt, ap); va_end(ap);
	if (n > 0 && write(fd, b, n) < 0) {}
}
/* thaw FILE VALUE: signals do not reach frozen tasks; a frozen container is
 * thawed to be stopped, killed or cleaned up (lxt stop thaws too; the native
 * front's stop -k relies on this) */
static void thaw_container(void) {
	const char *tf = hdr_arg("thaw", 0), *tv = hdr_arg("thaw", 1);
	if (!tf || !tv) return;
	int t = open(tf, O_WRONLY | O_CLOEXEC);
	if (t >= 0) { if (write(t, tv, strlen(tv)) < 0) {} close(t); }
}
static void cli_request(int i) {
	char b[256]; ssize_t n = read(cli[i].fd, b, sizeof b - 1);
	if (n <= 0) { cli_close(i); return; }
	b[n] = 0;
	char *nl = strchr(b, '\n'); if (nl) *nl = 0;
	int a1 = 0; long long a2 = -1; char cmd[32] = "";
	sscanf(b, "%31s %d %lld", cmd, &a1, &a2);
	int fd = cli[i].fd;
	if (!strcmp(cmd, "state")) reply(fd, "%s %d\n", cur_state, (int)child_pid);
	else if (!strcmp(cmd, "kill") || !strcmp(cmd, "stop")) {
		if (!strcmp(cmd, "stop")) {
			set_state("STOPPING", child_pid, -1);
			kill_deadline = a2 >= 0 ? now_ms() + a2 : 0;
		}
		if (!strcmp(cmd, "stop") || a1 == SIGKILL) thaw_container();
		if (kill(child_pid, a1) < 0) reply(fd, "err %s\n", strerror(errno));
		else {
			reply(fd, "ok\n");
			/* "... wait": the connection stays open until the container is
			 * cleaned up (it survives the exec of the cleanup command) */
			if (strstr(b, " wait")) { cli[i].tty = -2; return; }
		}
	} else if (!strcmp(cmd, "console")) {
		int k = -1; /* -1: the first free tty (LXC's default), else that tty number */
		for (int j = 0; j < npty && k < 0; j++) if (a1 < 0 ? pty_num[j] > 0 && client_of[j] < 0 : pty_num[j] == a1) k = j;
		if (k < 0 && a1 < 0) reply(fd, "err no free tty: every tty has a console attached, or lxc.tty.max is 0 (use -t 0 for the console)\n");
		else if (k < 0) reply(fd, "err tty %d does not exist in this container\n", a1);
		else if (client_of[k] >= 0) reply(fd, "err tty %d is busy: another console is attached\n", a1);
		else { reply(fd, "ok %d\n", pty_num[k]); cli[i].tty = k; client_of[k] = fd; return; }
	} else reply(fd, "err unknown request\n");
	cli_close(i);
}

/* Init's lifetime: proxy and log the ptys, serve the control socket, escalate a
 * stop, until init exits. Returns init's wait status. */
static int monitor_loop(pid_t c, int lsock, int fg_console) {
	int pidfd = (int)syscall(SYS_pidfd_open, c, 0);
	char buf[8192];
	int st = 0, in_open = fg_console;
	for (;;) {
		struct pollfd p[2 + MAXPTY + MAXCLI + 1];
		int kind[2 + MAXPTY + MAXCLI + 1], np = 0;
		if (pidfd >= 0) { p[np] = (struct pollfd){ pidfd, POLLIN, 0 }; kind[np++] = -1; }
		if (lsock >= 0) { p[np] = (struct pollfd){ lsock, POLLIN, 0 }; kind[np++] = -2; }
		if (in_open) { p[np] = (struct pollfd){ 0, POLLIN, 0 }; kind[np++] = -3; }
		for (int i = 0; i < npty; i++) if (pty_master[i] >= 0) { p[np] = (struct pollfd){ pty_master[i], POLLIN, 0 }; kind[np++] = i; }
		for (int i = 0; i < MAXCLI; i++) if (cli[i].fd >= 0) { p[np] = (struct pollfd){ cli[i].fd, POLLIN, 0 }; kind[np++] = 1000 + i; }
		int timeout = pidfd >= 0 ? -1 : 50;
		if (kill_deadline) { long long left = kill_deadline - now_ms(); if (left < 0) left = 0; if (timeout < 0 || left < timeout) timeout = (int)left; }
		int r = poll(p, np, timeout);
		if (r < 0 && errno != EINTR) break;
		pid_t w = waitpid(c, &st, WNOHANG);
		if (w == c || (w < 0 && errno == ECHILD)) break;
		if (kill_deadline && now_ms() >= kill_deadline) { kill(c, SIGKILL); kill_deadline = 0; }
		if (r <= 0) continue;
		for (int k = 0; k < np; k++) {
			if (!p[k].revents) continue;
			int kd = kind[k];
			if (kd == -2) {
				int fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0) continue;
				int j = 0; while (j < MAXCLI && cli[j].fd >= 0) j++;
				if (j == MAXCLI) { reply(fd, "err too many clients\n"); close(fd); continue; }
				cli[j].fd = fd; cli[j].tty = -1;
			} else if (kd == -3) {
				ssize_t n = read(0, buf, sizeof buf);
				if (n <= 0) in_open = 0;
				else if (con >= 0 && write(pty_master[con], buf, n) < 0) {}
			} else if (kd >= 0 && kd < MAXPTY) {
				ssize_t n = read(pty_master[kd], buf, sizeof buf);
				if (n < 0 && errno != EAGAIN && errno != EINTR) { close(pty_master[kd]); pty_master[kd] = -1; continue; }
				if (n <= 0) continue;
				if (kd == con) { log_out(buf, n); if (fg_console && write(1, buf, n) < 0) {} }
				if (client_of[kd] >= 0 && send(client_of[kd], buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
					for (int j = 0; j < MAXCLI; j++) if (cli[j].fd == client_of[kd]) cli_close(j);
				}
			} else if (kd >= 1000) {
				int j = kd - 1000;
				if (cli[j].fd < 0) continue;
				if (cli[j].tty == -1) { cli_request(j); continue; }
				if (cli[j].tty == -2) { if (read(cli[j].fd, buf, sizeof buf) <= 0) cli_close(j); continue; }
				ssize_t n = read(cli[j].fd, buf, sizeof buf);
				if (n <= 0) cli_close(j);
				else if (write(pty_master[cli[j].tty], buf, n) < 0) {}
			}
		}
	}
	if (pidfd >= 0) close(pidfd);
	for (int i = 0; i < npty; i++) if (pty_master[i] >= 0) { /* what init wrote last */
		ssize_t n;
		while ((n = read(pty_master[i], buf, sizeof buf)) > 0) if (i == con) { log_out(buf, n); if (fg_console && write(1, buf, n) < 0) {} }
	}
	for (int i = 0; i < MAXCLI; i++) if (cli[i].fd >= 0 && cli[i].tty != -2) cli_close(i);
	return st;
}

/* ---- the monitor's own cleanup (see cmd_start's end) ---- */
static void kill_tree(const char *dir) { /* SIGKILL every process left in a cgroup and below */
	char p[PATH_MAX], b[4096];
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, b, sizeof b - 1); close(fd);
		if (n > 0) { b[n] = 0; for (char *t = strtok(b, "\n"); t; t = strtok(NULL, "\n")) kill(atoi(t), SIGKILL); }
	}
	DIR *d = opendir(dir);
	if (!d) return;
	for (struct dirent *e; (e = readdir(d));) if (e->d_type == DT_DIR && e->d_name[0] != '.') { snprintf(p, sizeof p, "%s/%s", dir, e->d_name); kill_tree(p); }
	closedir(d);
}
static int rm_tree(const char *dir) { /* rmdir depth first (cgroups the container made inside its own) */
	DIR *d = opendir(dir);
	if (!d) return errno == ENOENT ? 0 : -1;
	char p[PATH_MAX];
	for (struct dirent *e; (e = readdir(d));) if (e->d_type == DT_DIR && e->d_name[0] != '.') { snprintf(p, sizeof p, "%s/%s", dir, e->d_name); rm_tree(p); }
	closedir(d);
	return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}
static int fast_cleanup(struct rec *r) { /* fastcleanup CGROUPDIR... */
	thaw_container();
	for (int attempt = 0; attempt < 40; attempt++) {
		int busy = 0;
		for (int j = 0; j < r->argc; j++) {
			kill_tree(r->argv[j]);
			if (rm_tree(r->argv[j]) < 0) { if (errno != EBUSY) return -1; busy = 1; }
		}
		if (!busy) return 0;
		usleep(attempt < 10 ? 5000 : 50000); /* the killed are still exiting */
	}
	return -1;
}
static void remove_rundir(void) { /* the state file last: its absence means STOPPED as well */
	DIR *d = opendir(rundir);
	if (!d) return;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "state")) unlinkat(dirfd(d), e->d_name, 0);
	unlinkat(dirfd(d), "state", 0);
	closedir(d);
	rmdir(rundir);
}

/* Loads an eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE, compiled by
 * src/cgroup/devices.ts) and attaches it to a cgroup v2 directory: the v2
 * form of the devices controller. The attachment lives as long as the cgroup. */
static int attach_devbpf(const char *cgdir, const char *file, char *err, size_t errlen) {
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) { snprintf(err, errlen, "%s: %s", file, strerror(errno)); return -1; }
	static unsigned char prog[65536];
	ssize_t n = read(fd, prog, sizeof prog);
	close(fd);
	if (n <= 0 || n % 8) { snprintf(err, errlen, "%s: not a BPF program", file); return -1; }
	static char vlog[16384];
	union bpf_attr a;
	int pfd = -1;
	for (int verbose = 0; verbose < 2 && pfd < 0; verbose++) { /* the verifier's log only when it refuses */
		memset(&a, 0, sizeof a);
		a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		a.insns = (unsigned long)prog;
		a.insn_cnt = (unsigned)(n / 8);
		a.license = (unsigned long)"GPL";
		if (verbose) { a.log_buf = (unsigned long)vlog; a.log_size = sizeof vlog; a.log_level = 1; vlog[0] = 0; }
		pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
	}
	if (pfd < 0) { snprintf(err, errlen, "load the device program: %s%s%.300s", strerror(errno), vlog[0] ? ": " : "", vlog); return -1; }
	int cfd = open(cgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0) { snprintf(err, errlen, "%s: %s", cgdir, strerror(errno)); close(pfd); return -1; }
	memset(&a, 0, sizeof a);
	a.target_fd = (unsigned)cfd;
	a.attach_bpf_fd = (unsigned)pfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a);
	if (r < 0) snprintf(err, errlen, "attach the device program to %s: %s", cgdir, strerror(errno));
	close(cfd); close(pfd);
	return r;
}

/* uid_map/gid_map: written directly as root, else through newuidmap/newgidmap. */
static void write_idmap(pid_t c, struct rec *r) { /* idmap u|g HELPER|direct LINE... */
	int gid = r->argv[0][0] == 'g';
	if (!strcmp(r->argv[1], "direct")) {
		char path[64], text[4096] = ""; size_t l = 0;
		snprintf(path, sizeof path, "/proc/%d/%s", (int)c, gid ? "gid_map" : "uid_map");
		for (int j = 2; j < r->argc; j++) l += snprintf(text + l, sizeof text - l, "%s\n", r->argv[j]);
		write_file(path, text, gid ? "gid_map" : "uid_map");
		return;
	}
	char *av[MAXARG + 2]; int n = 0; char pid[16];
	snprintf(pid, sizeof pid, "%d", (int)c);
	av[n++] = r->argv[1]; av[n++] = pid;
	for (int j = 2; j < r->argc && n < MAXARG - 3; j++) { /* "NSID HOSTID RANGE" -> three args */
		char *t = strdup(r->argv[j]);
		for (char *w = strtok(t, " "); w && n < MAXARG; w = strtok(NULL, " ")) av[n++] = w;
	}
	av[n] = NULL;
	pid_t h = fork();
	if (h == 0) { execv(av[0], av); _exit(127); }
	int hs;
	if (h < 0 || waitpid(h, &hs, 0) < 0 || !WIFEXITED(hs) || WEXITSTATUS(hs)) { errno = EPERM; die(gid ? "gid_map" : "uid_map", av[0]); }
}

/* Hands control to the host side (lxt start) and waits for its answer on the
 * sync FIFO: 'g' goes on, anything else (or 60 s of silence) aborts. */
static const char *host_sync(int fd, const char *phase, pid_t c) {
	status("{\"event\":\"sync\",\"phase\":\"%s\",\"pid\":%d}", phase, (int)c);
	struct pollfd sp = { fd, POLLIN, 0 };
	char x = 0;
	int r = poll(&sp, 1, 60000);
	if (r > 0 && read(fd, &x, 1) == 1 && x == 'g') return NULL;
	if (r == 0) status("{\"event\":\"error\",\"step\":\"host-setup\",\"errno\":%d,\"msg\":\"the host side did not finish its part of the start within 60 s\"}", ETIMEDOUT);
	return "sync";
}

static struct termios saved_tio;
static int tio_saved;
static void restore_tty(void) { if (tio_saved) tcsetattr(0, TCSAFLUSH, &saved_tio); tio_saved = 0; }

static int cmd_start(const char *plan) {
	load_plan(plan);
	preload_seccomp();
	const char *rd = hdr("rundir"), *mode = hdr("mode");
	if (rd) snprintf(rundir, sizeof rundir, "%s", rd);
	int daemon = mode && !strcmp(mode, "daemon"), execute = mode && !strcmp(mode, "execute");
	int flags = hdr("clone") ? atoi(hdr("clone")) : 0;
	int pdeath = hdr("pdeath") ? atoi(hdr("pdeath")) : SIGKILL;
	/* status FD: an inherited pipe the caller reads; closed once init runs (or failed) */
	if (hdr("status")) { status_fd = atoi(hdr("status")); if (fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) status_fd = -1; }

	if (daemon) { /* double fork: the monitor is reparented, in its own session */
		pid_t p = fork();
		if (p < 0) die("daemonize", "fork");
		if (p > 0) _exit(0);
		setsid();
		p = fork();
		if (p < 0) die("daemonize", "fork");
		if (p > 0) _exit(0);
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0); dup2(nul, 1); dup2(nul, 2);
		if (nul > 2) close(nul);
	}
	status("{\"event\":\"monitor\",\"pid\":%d}", (int)getpid());
	set_state("STARTING", 0, -1);
	for (int i = 0; i < MAXPTY; i++) client_of[i] = -1;
	for (int i = 0; i < MAXCLI; i++) { cli[i].fd = -1; cli[i].tty = -1; }
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "pty")) { int k = open_pty(); pty_num[k] = recs[i].argc > 2 ? atoi(recs[i].argv[2]) : k; if (pty_num[k] == 0) con = k; }
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "log")) { /* log PATH MAXBYTES ROTATE */
		snprintf(log_path, sizeof log_path, "%s", recs[i].argv[0]);
		log_max = atoll(recs[i].argv[1]); log_rotate = atoi(recs[i].argv[2]);
		log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (log_fd < 0) die("console log", log_path);
		struct stat lst; if (fstat(log_fd, &lst) == 0) log_size = lst.st_size;
	}
	int lsock = -1;
	if (hdr("sock")) { /* the control socket */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		const char *sp = hdr("sock");
		if (strlen(sp) >= sizeof a.sun_path) { errno = ENAMETOOLONG; die("control socket", sp); }
		strcpy(a.sun_path, sp);
		unlink(sp);
		lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (lsock < 0 || bind(lsock, (struct sockaddr *)&a, sizeof a) < 0 || listen(lsock, 8) < 0) die("control socket", sp);
		chmod(sp, 0600);
	}
	const char *syncp = hdr("sync");
	int sync_fd = -1;
	if (syncp) { /* the host acts between clone and init (NICs, start-host hooks) */
		unlink(syncp);
		if (mkfifo(syncp, 0600) < 0 || (sync_fd = open(syncp, O_RDWR | O_CLOEXEC)) < 0) die("sync", syncp);
	}
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "devbpf")) { /* devbpf CGROUPDIR PROGFILE */
		char err[600];
		if (attach_devbpf(recs[i].argv[0], recs[i].argv[1], err, sizeof err) < 0) { errno = ECANCELED; die("devices", err); }
	}
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "timens")) { /* timens BOOT_NS MONOTONIC_NS: for the children */
		if (unshare(0x80 /* CLONE_NEWTIME */) < 0) die("time namespace", "unshare");
		long long b = atoll(recs[i].argv[0]), m = atoll(recs[i].argv[1]);
		/* seconds may be negative, nanoseconds must be 0..999999999 */
		long long ms = m / 1000000000LL, mn = m % 1000000000LL, bs = b / 1000000000LL, bn = b % 1000000000LL;
		if (mn < 0) { ms--; mn += 1000000000LL; }
		if (bn < 0) { bs--; bn += 1000000000LL; }
		char off[128];
		snprintf(off, sizeof off, "monotonic %lld %lld\nboottime %lld %lld\n", ms, mn, bs, bn);
		write_file("/proc/self/timens_offsets", off, "time offsets");
	}
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "pidns")) { /* lxc.namespace.share.pid */
		int fd = open(recs[i].argv[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWPID) < 0) die("share pid namespace", recs[i].argv[0]);
		close(fd);
	}
	if (pipe2(sync_pipe, O_CLOEXEC) < 0 || pipe2(barrier_pipe, O_CLOEXEC) < 0) die("pipe", "");
	int cpipe[2];
	if (pipe2(cpipe, O_CLOEXEC) < 0) die("pipe", "");
	if ((has_op("idmapmount") || has_op("storemount") || has_op("ptyin")) && socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, mnt_sock) < 0) die("socketpair", "");
	int monitor_status = status_fd;

	pid_t c = (pid_t)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
	if (c < 0) die("clone", "");
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, pdeath);
		close(sync_pipe[1]);
		char x = 0;
		if (read(sync_pipe[0], &x, 1) < 0) {}
		if (x != 'g') _exit(126); /* the monitor gave up */
		close(sync_pipe[0]);
		close(cpipe[0]);
		close(barrier_pipe[1]);
		if (mnt_sock[0] >= 0) close(mnt_sock[0]);
		status_fd = cpipe[1];
		if (!execute) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); dup2(nul, 2); if (nul > 2) close(nul); }
		}
		return run_ops(execute);
	}
	child_pid = c;
	close(sync_pipe[0]);
	close(cpipe[1]);
	close(barrier_pipe[0]);
	int st = 0;
	const char *fail = NULL;
	/* before init runs: its id maps, the host's part */
	for (int i = 0; i < nrec && !fail; i++) if (!strcmp(recs[i].op, "idmap")) write_idmap(c, &recs[i]);
	/* mounts the child cannot make in its user namespace, sent in plan order (it takes them with recvmount) */
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "idmapmount")) { /* idmapmount SRC: its idmapped copy */
		char p[64]; snprintf(p, sizeof p, "/proc/%d/ns/user", (int)c);
		int ufd = open(p, O_RDONLY | O_CLOEXEC);
		int tfd = ufd < 0 ? -1 : idmapped_tree(recs[i].argv[0], ufd);
		if (tfd < 0) { kill(c, SIGKILL); die("idmapped rootfs", recs[i].argv[0]); }
		if (send_fds(mnt_sock[0], &tfd, 1, 0) < 0) { kill(c, SIGKILL); die("idmapped rootfs", "send the mount to the container"); }
		close(tfd); close(ufd);
	} else if (!strcmp(recs[i].op, "storemount")) { /* storemount loop|dev SRC FSTYPE FLAGS DATA: the backing store */
		struct rec *r = &recs[i];
		int mfd = detached_fs(r->argv[0], r->argv[1], r->argv[2], strtoul(r->argv[3], 0, 10), r->argv[4]);
		if (mfd < 0) { kill(c, SIGKILL); char w[600]; snprintf(w, sizeof w, "mount %s (%s)", r->argv[1], r->argv[2]); die("mount", w); }
		if (send_fds(mnt_sock[0], &mfd, 1, 0) < 0) { kill(c, SIGKILL); die("mount", "send the backing store to the container"); }
		close(mfd);
	}
	if (mnt_sock[1] >= 0) close(mnt_sock[1]);
	int sync_clone = syncp && hdr_arg("sync", 1) && !strcmp(hdr_arg("sync", 1), "1");
	set_state("STARTING", c, -1);
	/* keepnetns: hold the container's network namespace past init's death, so
	 * the cleanup can still take host NICs (phys) back out of it (fd 99) */
	int netns_fd = -1;
	if (has_op("keepnetns")) { char p[64]; snprintf(p, sizeof p, "/proc/%d/ns/net", (int)c); netns_fd = open(p, O_RDONLY | O_CLOEXEC); }
	if (!fail && sync_clone) fail = host_sync(sync_fd, "clone", c);
	if (!fail && write(sync_pipe[1], "g", 1) < 0) {}
	close(sync_pipe[1]);

	/* the child reports an error, stops at a barrier for the host (start-host
	 * hooks: after its setup, before init), or closes the pipe by exec'ing init */
	char cbuf[2048]; size_t cl = 0; ssize_t cn;
	while ((cn = read(cpipe[0], cbuf + cl, sizeof cbuf - 1 - cl)) > 0 || (cn < 0 && errno == EINTR)) {
		if (cn <= 0) continue;
		cl += cn; cbuf[cl] = 0;
		char *b = strstr(cbuf, "{\"event\":\"barrier\"}\n");
		if (!b) continue;
		memmove(b, b + 20, cl - (b - cbuf) - 20 + 1); cl -= 20;
		if (!fail && sync_fd >= 0) fail = host_sync(sync_fd, "exec", c);
		if (fail) { kill(c, SIGKILL); break; }
		if (write(barrier_pipe[1], "g", 1) < 0) {}
	}
	cbuf[cl] = 0;
	close(cpipe[0]);
	close(barrier_pipe[1]);
	if (sync_fd >= 0) { close(sync_fd); unlink(syncp); }
	if (fail || strstr(cbuf, "\"error\"")) {
		set_state("ABORTING", c, -1);
		if (cl && monitor_status >= 0 && write(monitor_status, cbuf, cl) < 0) {}
		if (fail) kill(c, SIGKILL);
		waitpid(c, &st, 0);
		set_state("STOPPED", c, st);
		if (hdr("sock")) unlink(hdr("sock"));
		/* no cleanup run here: lxt start is waiting for this error and undoes its own steps */
		return 1;
	}
	/* ptyin: the terminals the child made in its own devpts, queued on the socket */
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "ptyin") && npty < MAXPTY) {
		int fds[2] = { -1, -1 }, num = 0;
		if (recv_fds(mnt_sock[0], fds, &num, MSG_DONTWAIT) != 2) break;
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		pty_master[npty] = fds[0]; /* fds[1], a slave, stays open: the master never hangs up */
		pty_num[npty] = num;
		if (num == 0) con = npty;
		npty++;
	}
	if (mnt_sock[0] >= 0) { close(mnt_sock[0]); mnt_sock[0] = -1; }
	set_state("RUNNING", c, -1);
	status("{\"event\":\"running\",\"pid\":%d}", (int)c);
	if (status_fd >= 0) { close(status_fd); status_fd = -1; }
	if (execute) { signal(SIGINT, fwd); signal(SIGTERM, fwd); signal(SIGHUP, fwd); signal(SIGQUIT, fwd); signal(SIGUSR1, fwd); signal(SIGUSR2, fwd); }
	int fg_console = !daemon && !execute && con >= 0;
	if (fg_console && isatty(0) && tcgetattr(0, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		cfmakeraw(&raw);
		tio_saved = tcsetattr(0, TCSAFLUSH, &raw) == 0;
	}
	st = monitor_loop(c, lsock, fg_console);
	restore_tty();
	if (hdr("sock")) unlink(hdr("sock"));
	set_state("STOPPED", c, st);
	/* fastcleanup: the host side has nothing to do but remove the cgroups and
	 * the run dir, so the monitor does it; a reboot (init killed by SIGHUP:
	 * reboot(2) in a pid namespace) or a failure goes to `lxt __cleanup` */
	int rebooted = WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP;
	int cleaned = 0;
	for (int i = 0; i < nrec && !cleaned; i++) if (!strcmp(recs[i].op, "fastcleanup") && !rebooted && fast_cleanup(&recs[i]) == 0) {
		remove_rundir();
		cleaned = 1;
	}
	for (int i = 0; i < nrec && !cleaned; i++) if (!strcmp(recs[i].op, "cleanup") && daemon) {
		/* everything closes but the waiters' connections, moved to 100.. */
		int nw = 0;
		for (int j = 0; j < MAXCLI; j++) if (cli[j].fd >= 0 && cli[j].tty == -2 && fcntl(cli[j].fd, F_DUPFD, 100 + nw) == 100 + nw) nw++;
		if (netns_fd >= 0 && netns_fd != 99) { dup2(netns_fd, 99); close(netns_fd); }
		else if (netns_fd == 99) fcntl(99, F_SETFD, 0);
		syscall(SYS_close_range, 3, netns_fd >= 0 ? 98 : 99, 0);
		syscall(SYS_close_range, 100 + nw, ~0U, 0);
		execv(recs[i].argv[0], recs[i].argv);
		_exit(1);
	}
	if (execute) return WIFEXITED(st) ? (WEXITSTATUS(st) == 126 ? 126 : WEXITSTATUS(st)) : 128 + WTERMSIG(st);
	return 0;
}

/* lxt-shim usernsexec PLAN: CMD in a new user and mount namespace whose maps
 * (idmap records) the parent writes; inside it runs as root of the namespace. */
static int cmd_usernsexec(const char *plan) {
	plain_errors = 1;
	load_plan(plan);
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0) die("pipe", "");
	pid_t c = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD), NULL, NULL, NULL, NULL);
	if (c < 0) die("clone", "a new user namespace");
	if (c == 0) {
		close(go[1]);
		char x = 0;
		if (read(go[0], &x, 1) != 1 || x != 'g') _exit(126);
		if (setgid(0) < 0 || setuid(0) < 0) die("setuid", "0 in the new user namespace (is 0 mapped?)");
		if (setgroups(0, NULL) < 0 && errno != EPERM) die("setgroups", "");
		for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "exec")) { execvp(recs[i].argv[0], recs[i].argv); die("exec", recs[i].argv[0]); }
		_exit(127);
	}
	close(go[0]);
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "idmap")) write_idmap(c, &recs[i]);
	if (write(go[1], "g", 1) < 0) {}
	close(go[1]);
	signal(SIGINT, fwd); signal(SIGTERM, fwd); signal(SIGHUP, fwd); signal(SIGQUIT, fwd);
	child_pid = c;
	int st;
	while (waitpid(c, &st, 0) < 0) if (errno != EINTR) die("wait", "");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* lxt-shim console SOCKET TTY ESCAPE: the terminal side of `lxt console`. */
static int cmd_console(const char *sock, int tty, int esc) {
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof a.sun_path) { fprintf(stderr, "lxt console: socket path too long: %s\n", sock); return 1; }
	strcpy(a.sun_path, sock);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) { fprintf(stderr, "lxt console: cannot reach the container's monitor at %s: %s\n", sock, strerror(errno)); return 1; }
	char req[64]; int rl = snprintf(req, sizeof req, "console %d\n", tty);
	if (write(s, req, rl) < 0) { perror("lxt console"); return 1; }
	char ans[256]; size_t al = 0;
	while (al < sizeof ans - 1) { ssize_t n = read(s, ans + al, 1); if (n <= 0) break; if (ans[al++] == '\n') break; }
	ans[al] = 0;
	if (strncmp(ans, "ok", 2)) { fprintf(stderr, "lxt console: %s", al ? (ans[0] == 'e' && ans[1] == 'r' ? ans + 4 : ans) : "the monitor closed the connection\n"); return 1; }
	int ctrl = esc & 0x1f;
	if (ans[2] == ' ') tty = atoi(ans + 3);
	fprintf(stderr, "\nConnected to tty %d\nType <Ctrl+%c q> to exit the console, <Ctrl+%c Ctrl+%c> to enter Ctrl+%c itself\n", tty, esc, esc, esc, esc);
	if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		cfmakeraw(&raw);
		tio_saved = tcsetattr(0, TCSAFLUSH, &raw) == 0;
	}
	char buf[8192], out[16384];
	int pending_esc = 0, in_open = 1;
	for (;;) {
		struct pollfd p[2] = { { s, POLLIN, 0 }, { in_open ? 0 : -1, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
		if (p[0].revents) {
			ssize_t n = read(s, buf, sizeof buf);
			if (n <= 0) break; /* the container stopped */
			if (write(1, buf, n) < 0) {}
		}
		if (p[1].revents) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0) { in_open = 0; continue; }
			size_t o = 0; int quit = 0;
			for (ssize_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)buf[i];
				if (pending_esc) {
					pending_esc = 0;
					if (ch == 'q') { quit = 1; break; }
					out[o++] = (char)ctrl;
					if (ch != ctrl) out[o++] = (char)ch;
				} else if (ch == ctrl) pending_esc = 1;
				else out[o++] = (char)ch;
			}
			if (o && write(s, out, o) < 0) break;
			if (quit) break;
		}
	}
	restore_tty();
	close(s);
	return 0;
}

static int attach_run(void) { /* the loaded attach plan: enter, fork, exec, wait */
	plain_errors = 1;
	preload_seccomp();
	int pid = atoi(hdr("pid") ? hdr("pid") : "0");
	int fds[16], nfd = 0;
	char p[128];
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "ns")) { /* open all before entering any */
		snprintf(p, sizeof p, "/proc/%d/ns/%s", pid, recs[i].argv[0]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) die("attach", p);
		fds[nfd++] = fd;
	}
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "join")) write_file(recs[i].argv[0], "0", "cgroup-join");
	for (int i = 0; i < nfd; i++) if (setns(fds[i], 0) < 0) die("setns", "");
	pid_t c = fork(); /* the child is in the pid namespace */
	if (c < 0) die("fork", "");
	if (c == 0) { /* reuse the op interpreter for ids, env, chdir, exec */
		plain_errors = 1;
		for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "ns") || !strcmp(recs[i].op, "join") || !strcmp(recs[i].op, "pid")) recs[i].op = "";
		run_ops(0);
	}
	signal(SIGINT, fwd); signal(SIGTERM, fwd); signal(SIGHUP, fwd); signal(SIGQUIT, fwd);
	child_pid = c;
	int st;
	while (waitpid(c, &st, 0) < 0) if (errno != EINTR) die("wait", "");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int cmd_attach(const char *plan) {
	plain_errors = 1;
	load_plan(plan);
	return attach_run();
}


/* ---- the native front of `lxt` (dist/lxt is this binary) ----
 * A plain `lxt attach [-P LXCPATH] -n NAME -- CMD...` is served here from the
 * plan `lxt start` left in the run dir (RUNDIR/attach.plan: src/runtime/
 * attach.ts, fastAttachPlan), and `lxt stop [-P LXCPATH] -n NAME -k` through
 * the monitor's socket, without starting Bun; every other command, and
 * any case this code is not sure of, runs the TypeScript CLI (dist/lxt-bun)
 * with the same argv. No policy here: the plan says what to do. */
static int front_fallback(char **argv) {
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
	if (n <= 0) { fprintf(stderr, "lxt: /proc/self/exe: %s\n", strerror(errno)); return 127; }
	self[n] = 0;
	char *slash = strrchr(self, '/');
	strcpy(slash ? slash + 1 : self, "lxt-bun");
	execv(self, argv);
	fprintf(stderr, "lxt: cannot run %s: %s (run npm install)\n", self, strerror(errno));
	return 127;
}

/* The plan at PATH into recs, or -1 (a missing or damaged plan: the TypeScript path decides). */
static int front_load(const char *path) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (1 << 20)) { close(fd); return -1; }
	char *buf = malloc(st.st_size + 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size) { close(fd); return -1; }
	close(fd);
	buf[st.st_size] = 0;
	if (parse_plan(buf, st.st_size)) return -1;
	return nrec > 0 && !strcmp(recs[0].op, "lxcpath") && recs[0].argc == 2 ? 0 : -1;
}
/* RUNDIR/state says RUNNING and its monitor is the live process it names. */
static int front_running(const char *rundir, int *init) {
	char path[8400], buf[256];
	snprintf(path, sizeof path, "%s/state", rundir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return 0;
	buf[n] = 0;
	char state[32]; int mon; unsigned long long start, s2;
	if (sscanf(buf, "%31s %d %d %llu", state, init, &mon, &start) != 4 || strcmp(state, "RUNNING") || *init <= 0 || mon <= 0) return 0;
	/* the monitor is the one recorded (start time), and neither it nor init is a zombie (a slow reaper) */
	char ms, is;
	return proc_stat(mon, &ms, &s2) == 0 && s2 == start && ms != 'Z' && ms != 'X' && proc_stat(*init, &is, &s2) == 0 && is != 'Z' && is != 'X';
}
/* Loads BASE[/SUB]/NAME/attach.plan; true when it is for LXCPATH (NULL: the default lxcpath). */
static int front_try(const char *base, const char *sub, const char *name, const char *lxcpath) {
	char path[8400];
	if (sub) snprintf(path, sizeof path, "%s/%s/%s/attach.plan", base, sub, name);
	else snprintf(path, sizeof path, "%s/%s/attach.plan", base, name);
	if (front_load(path) < 0) return 0;
	return lxcpath ? !strcmp(recs[0].argv[0], lxcpath) : !strcmp(recs[0].argv[1], "1");
}

/* stop -k: the monitor kills init and cleans up; its connection closes when all is done (as src/container/stop.ts asks it). */
static int front_stop_kill(const char *rundir, char **argv) {
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", rundir) >= (int)sizeof a.sun_path) return front_fallback(argv);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return front_fallback(argv);
	const char *req = "kill 9 wait\n";
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) return front_fallback(argv);
	char ans[64]; size_t n = 0;
	while (n < sizeof ans - 1) { /* the answer line */
		ssize_t r = read(fd, ans + n, 1);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0 || ans[n] == '\n') break;
		n++;
	}
	ans[n] = 0;
	if (strcmp(ans, "ok")) { close(fd); return front_fallback(argv); } /* the full CLI says what is wrong */
	struct pollfd pf = { fd, POLLIN, 0 };
	char b[64];
	for (;;) { /* EOF: init is gone and the cleanup has let go */
		int r = poll(&pf, 1, 10000);
		if (r < 0 && errno == EINTR) continue;
		if (r == 0) { fprintf(stderr, "lxt stop: the monitor did not finish within 10 s after SIGKILL of init\n"); return 1; }
		ssize_t m = read(fd, b, sizeof b);
		if (m < 0 && errno == EINTR) continue;
		if (m <= 0) break;
	}
	close(fd);
	return 0;
}

static int cmd_front(int argc, char **argv) {
	const char *base0 = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int attach = argc >= 5 && !strcmp(argv[1], "attach"), stopk = argc >= 4 && !strcmp(argv[1], "stop");
	if (strcmp(base0, "lxt") || (!attach && !stopk)) return front_fallback(argv);
	const char *name = NULL, *lxcpath = NULL;
	int i = 2, kill9 = 0;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];
		if ((!strcmp(a, "-n") || !strcmp(a, "--name")) && i + 1 < argc) name = argv[++i];
		else if (!strncmp(a, "--name=", 7)) name = a + 7;
		else if ((!strcmp(a, "-P") || !strcmp(a, "--lxcpath")) && i + 1 < argc) lxcpath = argv[++i];
		else if (!strncmp(a, "--lxcpath=", 10)) lxcpath = a + 10;
		else if (stopk && (!strcmp(a, "-k") || !strcmp(a, "--kill"))) kill9 = 1;
		else return front_fallback(argv); /* any other option: the full CLI */
	}
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) return front_fallback(argv);
	if (attach && (i + 1 >= argc || !argv[i + 1][0])) return front_fallback(argv);
	if (stopk && (i < argc || !kill9)) return front_fallback(argv);
	if (!lxcpath && getenv("LXT_LXCPATH")) return front_fallback(argv);
	char lp[4096] = "";
	if (lxcpath) {
		snprintf(lp, sizeof lp, "%s", lxcpath);
		size_t l = strlen(lp);
		while (l > 1 && lp[l - 1] == '/') lp[--l] = 0;
	}
	char base[4096];
	const char *rd = getenv("LXT_RUNDIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	if (rd) snprintf(base, sizeof base, "%s", rd);
	else if (getuid() == 0) snprintf(base, sizeof base, "/run/lxt");
	else if (xdg) snprintf(base, sizeof base, "%s/lxt", xdg);
	else { /* as src/container/context.ts userRunBase */
		char ru[64]; struct stat rst;
		snprintf(ru, sizeof ru, "/run/user/%d", (int)getuid());
		if (stat(ru, &rst) == 0) snprintf(base, sizeof base, "%s/lxt", ru);
		else if (getenv("HOME")) snprintf(base, sizeof base, "%s/.cache/lxt/run", getenv("HOME"));
		else snprintf(base, sizeof base, "/tmp/lxt-%d/.cache/lxt/run", (int)getuid());
	}
	/* the run dir: BASE/NAME (the default lxcpath) or BASE/HASH/NAME, told apart by the plan's lxcpath record */
	char rundir[8192] = "";
	if (front_try(base, NULL, name, lxcpath ? lp : NULL)) snprintf(rundir, sizeof rundir, "%s/%s", base, name);
	else {
		DIR *d = opendir(base);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.') continue;
			if (front_try(base, e->d_name, name, lxcpath ? lp : NULL)) { snprintf(rundir, sizeof rundir, "%s/%s/%s", base, e->d_name, name); break; }
		}
		if (d) closedir(d);
	}
	int init = 0;
	if (!rundir[0] || !front_running(rundir, &init)) return front_fallback(argv);
	if (stopk) return front_stop_kill(rundir, argv);
	/* pid, the namespaces that differ from ours, the plan's steps, the caller's environment under
	 * the plan's variables, the command */
	static struct rec out[MAXREC];
	int no = 0;
	static char pidbuf[16];
	static char *pidargv[2];
	snprintf(pidbuf, sizeof pidbuf, "%d", init);
	pidargv[0] = pidbuf;
	out[no++] = (struct rec){ "pid", 1, pidargv };
	static const char *nss[] = { "user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt" };
	static char *nsargv[8][2];
	for (int k = 0; k < 8; k++) {
		char a[64], b[64]; struct stat sa, sb2;
		snprintf(a, sizeof a, "/proc/%d/ns/%s", init, nss[k]);
		snprintf(b, sizeof b, "/proc/self/ns/%s", nss[k]);
		if (stat(a, &sa) < 0 || stat(b, &sb2) < 0 || sa.st_ino == sb2.st_ino) continue;
		nsargv[k][0] = (char *)nss[k];
		out[no++] = (struct rec){ "ns", 1, nsargv[k] };
	}
	for (int k = 1; k < nrec && no < MAXREC - 2; k++) out[no++] = recs[k];
	for (char **ev = environ; *ev && no < MAXREC - 2; ev++) {
		const char *eq = strchr(*ev, '=');
		if (!eq) continue;
		size_t kl = eq - *ev + 1;
		int dup = 0;
		for (int k = 1; k < nrec && !dup; k++) if (!strcmp(recs[k].op, "env") && !strncmp(recs[k].argv[0], *ev, kl)) dup = 1;
		if (dup) continue;
		char **one = calloc(2, sizeof(char *));
		one[0] = *ev;
		out[no++] = (struct rec){ "env", 1, one };
	}
	out[no++] = (struct rec){ "exec", argc - i - 1, argv + i + 1 };
	memcpy(recs, out, no * sizeof out[0]);
	nrec = no;
	return attach_run();
}


/* ---- lxt-shim netlink PLAN: the NIC steps src/net/nic.ts decides, over rtnetlink ----
 * One process instead of `ip -batch` twice and nsenter (each ~2-3 ms): records
 *   veth HOST PEER MTU PID   a veth pair, PEER made straight in PID's network namespace
 *   master DEV BRIDGE        up DEV        netns PID (the records after it act inside)
 *   rename OLD NEW           hwaddr DEV MAC          mtu DEV N
 *   addr DEV ADDR/PREFIX [BROADCAST]   (IPv6 without DAD, like `ip ... nodad`)
 *   route DEV VIA|-          a default route via VIA, or on DEV itself ("-")
 * A failure prints the step and the kernel's errno and exits 1. */
struct nlreq { struct nlmsghdr h; char buf[1024]; };
static int nl_fd = -1;
static unsigned nl_seq;
static void nl_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len) {
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type; a->rta_len = RTA_LENGTH(len);
	if (len) memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}
static struct rtattr *nl_nest(struct nlmsghdr *h, unsigned short type) {
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	nl_attr(h, type, NULL, 0);
	return a;
}
static void nl_end(struct nlmsghdr *h, struct rtattr *a) { a->rta_len = (char *)h + h->nlmsg_len - (char *)a; }
static int nl_talk(struct nlmsghdr *h) { /* send, read the ack: 0 or -1 with errno */
	if (nl_fd < 0 && (nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0) return -1;
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++nl_seq;
	if (send(nl_fd, h, h->nlmsg_len, 0) < 0) return -1;
	char b[4096];
	for (;;) {
		ssize_t n = recv(nl_fd, b, sizeof b, 0);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) return -1;
		for (struct nlmsghdr *r = (struct nlmsghdr *)b; NLMSG_OK(r, (unsigned)n); r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_seq != nl_seq || r->nlmsg_type != NLMSG_ERROR) continue;
			int e = ((struct nlmsgerr *)NLMSG_DATA(r))->error;
			if (e) { errno = -e; return -1; }
			return 0;
		}
	}
}
static void nl_link(struct nlreq *q, int type, int flags, int ifindex) {
	memset(q, 0, sizeof *q);
	q->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	q->h.nlmsg_type = type; q->h.nlmsg_flags = flags;
	struct ifinfomsg *i = NLMSG_DATA(&q->h);
	i->ifi_family = AF_UNSPEC; i->ifi_index = ifindex;
}
static int nl_index(const char *dev) { int i = (int)if_nametoindex(dev); if (!i) errno = ENODEV; return i; }
static void nl_die(char **a, int argc) {
	char w[512] = ""; size_t l = 0;
	for (int i = 0; i < argc && l < sizeof w - 2; i++) l += snprintf(w + l, sizeof w - l, "%s%s", i ? " " : "", a[i]);
	fprintf(stderr, "%s: %s\n", w, strerror(errno));
	exit(1);
}
static int cmd_netlink(const char *plan) {
	plain_errors = 1;
	load_plan(plan);
	for (int r = 0; r < nrec; r++) {
		char **a = recs[r].argv; const char *op = recs[r].op;
		char *all[MAXARG + 1]; all[0] = (char *)op;
		for (int k = 0; k < recs[r].argc && k < MAXARG; k++) all[k + 1] = a[k];
		int na = recs[r].argc + 1;
		struct nlreq q;
		if (!strcmp(op, "netns")) {
			char p[64]; snprintf(p, sizeof p, "/proc/%s/ns/net", a[0]);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) nl_die(all, na);
			close(fd);
			if (nl_fd >= 0) { close(nl_fd); nl_fd = -1; } /* the socket belongs to the namespace it was made in */
		} else if (!strcmp(op, "veth")) { /* HOST PEER MTU PID */
			nl_link(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
			unsigned mtu = (unsigned)atoi(a[2]);
			nl_attr(&q.h, IFLA_IFNAME, a[0], strlen(a[0]) + 1);
			if (mtu) nl_attr(&q.h, IFLA_MTU, &mtu, sizeof mtu);
			struct rtattr *li = nl_nest(&q.h, IFLA_LINKINFO);
			nl_attr(&q.h, IFLA_INFO_KIND, "veth", 4);
			struct rtattr *data = nl_nest(&q.h, IFLA_INFO_DATA);
			struct rtattr *peer = nl_nest(&q.h, VETH_INFO_PEER);
			struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
			memcpy((char *)&q.h + q.h.nlmsg_len, &pi, sizeof pi); /* the peer's ifinfomsg */
			q.h.nlmsg_len += NLMSG_ALIGN(sizeof pi);
			nl_attr(&q.h, IFLA_IFNAME, a[1], strlen(a[1]) + 1);
			if (mtu) nl_attr(&q.h, IFLA_MTU, &mtu, sizeof mtu);
			unsigned pid = (unsigned)atoi(a[3]);
			nl_attr(&q.h, IFLA_NET_NS_PID, &pid, sizeof pid);
			nl_end(&q.h, peer); nl_end(&q.h, data); nl_end(&q.h, li);
			if (nl_talk(&q.h) < 0) nl_die(all, na);
		} else if (!strcmp(op, "master") || !strcmp(op, "up") || !strcmp(op, "rename") || !strcmp(op, "mtu") || !strcmp(op, "hwaddr")) {
			int idx = nl_index(a[0]);
			if (!idx) nl_die(all, na);
			nl_link(&q, RTM_NEWLINK, 0, idx);
			struct ifinfomsg *i = NLMSG_DATA(&q.h);
			if (!strcmp(op, "up")) { i->ifi_flags = IFF_UP; i->ifi_change = IFF_UP; }
			else if (!strcmp(op, "master")) { int m = nl_index(a[1]); if (!m) nl_die(all, na); nl_attr(&q.h, IFLA_MASTER, &m, sizeof m); }
			else if (!strcmp(op, "rename")) nl_attr(&q.h, IFLA_IFNAME, a[1], strlen(a[1]) + 1);
			else if (!strcmp(op, "mtu")) { unsigned m = (unsigned)atoi(a[1]); nl_attr(&q.h, IFLA_MTU, &m, sizeof m); }
			else {
				unsigned char mac[6]; unsigned v[6];
				if (sscanf(a[1], "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) { errno = EINVAL; nl_die(all, na); }
				for (int k = 0; k < 6; k++) mac[k] = (unsigned char)v[k];
				nl_attr(&q.h, IFLA_ADDRESS, mac, 6);
			}
			if (nl_talk(&q.h) < 0) nl_die(all, na);
		} else if (!strcmp(op, "addr")) { /* DEV ADDR/PREFIX [BROADCAST] */
			int idx = nl_index(a[0]);
			if (!idx) nl_die(all, na);
			char ip[64]; snprintf(ip, sizeof ip, "%s", a[1]);
			char *sl = strchr(ip, '/'); int pfx = sl ? atoi(sl + 1) : -1; if (sl) *sl = 0;
			unsigned char bin[16]; int v6 = strchr(ip, ':') != NULL;
			if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, bin) != 1) { errno = EINVAL; nl_die(all, na); }
			memset(&q, 0, sizeof q);
			q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
			q.h.nlmsg_type = RTM_NEWADDR; q.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
			struct ifaddrmsg *m = NLMSG_DATA(&q.h);
			m->ifa_family = v6 ? AF_INET6 : AF_INET; m->ifa_prefixlen = pfx < 0 ? (v6 ? 128 : 32) : pfx; m->ifa_index = idx;
			if (v6) m->ifa_flags = IFA_F_NODAD;
			nl_attr(&q.h, IFA_LOCAL, bin, v6 ? 16 : 4);
			nl_attr(&q.h, IFA_ADDRESS, bin, v6 ? 16 : 4);
			if (!v6 && recs[r].argc > 2) {
				unsigned char bc[4];
				if (inet_pton(AF_INET, a[2], bc) != 1) { errno = EINVAL; nl_die(all, na); }
				nl_attr(&q.h, IFA_BROADCAST, bc, 4);
			}
			if (nl_talk(&q.h) < 0) nl_die(all, na);
		} else if (!strcmp(op, "route")) { /* DEV VIA|- [6] */
			int idx = nl_index(a[0]);
			if (!idx) nl_die(all, na);
			int v6 = strcmp(a[1], "-") ? strchr(a[1], ':') != NULL : recs[r].argc > 2 && !strcmp(a[2], "6");
			memset(&q, 0, sizeof q);
			q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
			q.h.nlmsg_type = RTM_NEWROUTE; q.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
			struct rtmsg *rt = NLMSG_DATA(&q.h);
			rt->rtm_family = v6 ? AF_INET6 : AF_INET; rt->rtm_table = RT_TABLE_MAIN; rt->rtm_protocol = RTPROT_BOOT;
			rt->rtm_type = RTN_UNICAST; rt->rtm_scope = strcmp(a[1], "-") ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
			nl_attr(&q.h, RTA_OIF, &idx, sizeof idx);
			if (strcmp(a[1], "-")) {
				unsigned char gw[16];
				if (inet_pton(v6 ? AF_INET6 : AF_INET, a[1], gw) != 1) { errno = EINVAL; nl_die(all, na); }
				nl_attr(&q.h, RTA_GATEWAY, gw, v6 ? 16 : 4);
			}
			if (nl_talk(&q.h) < 0) nl_die(all, na);
		} else { errno = EINVAL; nl_die(all, na); }
	}
	return 0;
}

/* idmap-probe PATH: can this kernel and PATH's filesystem give an idmapped mount
 * of PATH? A child in a fresh user namespace (mapped to nobody) lends its
 * namespace; exit 0 when the mount could be made, else the errno's text. */
static int cmd_idmap_probe(const char *path) {
	int ready[2], hold[2];
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0) { perror("pipe"); return 1; }
	pid_t c = fork();
	if (c < 0) { perror("fork"); return 1; }
	if (c == 0) {
		close(hold[1]); close(ready[0]);
		char x = unshare(CLONE_NEWUSER) < 0 ? 'e' : 'u';
		if (write(ready[1], &x, 1) < 0) {}
		if (read(hold[0], &x, 1) < 0) {}
		_exit(0);
	}
	close(hold[0]); close(ready[1]);
	char x = 0, p[64];
	int r = 1;
	if (read(ready[0], &x, 1) == 1 && x == 'u') {
		snprintf(p, sizeof p, "/proc/%d/uid_map", (int)c);
		int m = open(p, O_WRONLY | O_CLOEXEC);
		if (m >= 0 && write(m, "0 65534 1\n", 10) == 10) {
			snprintf(p, sizeof p, "/proc/%d/gid_map", (int)c);
			int g = open(p, O_WRONLY | O_CLOEXEC);
			if (g >= 0 && write(g, "0 65534 1\n", 10) == 10) {
				snprintf(p, sizeof p, "/proc/%d/ns/user", (int)c);
				int ufd = open(p, O_RDONLY | O_CLOEXEC);
				int tfd = ufd < 0 ? -1 : idmapped_tree(path, ufd);
				if (tfd >= 0) { close(tfd); r = 0; }
				else fprintf(stderr, "%s\n", strerror(errno));
			} else fprintf(stderr, "gid_map: %s\n", strerror(errno));
		} else fprintf(stderr, "uid_map: %s\n", strerror(errno));
	} else fprintf(stderr, "no user namespace\n");
	close(hold[1]);
	waitpid(c, NULL, 0);
	return r;
}

int main(int argc, char **argv) {
	const char *me = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strncmp(me, "lxt-shim", 8)) return cmd_front(argc, argv); /* dist/lxt: the front */
	if (argc == 3 && !strcmp(argv[1], "start")) return cmd_start(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "attach")) return cmd_attach(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "console")) return cmd_console(argv[2], atoi(argv[3]), argv[4][0]);
	if (argc == 3 && !strcmp(argv[1], "usernsexec")) return cmd_usernsexec(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "idmap-probe")) return cmd_idmap_probe(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "netlink")) return cmd_netlink(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "devbpf")) { /* devbpf CGROUPDIR PROGFILE */
		char err[600];
		if (attach_devbpf(argv[2], argv[3], err, sizeof err) == 0) return 0;
		fprintf(stderr, "lxt devices: %s\n", err);
		return 1;
	}
	fprintf(stderr, "usage: lxt-shim start|attach PLANFILE, lxt-shim console SOCKET TTY ESCAPE (internal to lxt)\n");
	return 2;
}
