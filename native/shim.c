/* lxt-shim: the only C in lxt. It executes a plan that TypeScript resolved
 * (src/runtime/plan.ts) and makes no policy of its own. Plan format: records
 * "OP\0ARGC\0ARG1\0...ARGn\0" (see docs/ARCHITECTURE.md, "The shim").
 *
 *   lxt-shim start PLANFILE    clone init into new namespaces; stay as its monitor
 *   lxt-shim attach PLANFILE   enter a running container's namespaces and exec
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

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
	status("{\"event\":\"error\",\"step\":\"%s\",\"errno\":%d,\"msg\":\"%s: %s\"}", step, e, w, strerror(e));
	_exit(126);
}

static void load_plan(const char *path) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) die("plan", path);
	struct stat st;
	if (fstat(fd, &st) < 0) die("plan", path);
	char *buf = malloc(st.st_size + 1);
	if (!buf) die("plan", "malloc");
	ssize_t got = 0;
	while (got < st.st_size) {
		ssize_t r = read(fd, buf + got, st.st_size - got);
		if (r <= 0) die("plan", "read");
		got += r;
	}
	close(fd);
	char *p = buf, *end = buf + st.st_size;
	while (p < end && nrec < MAXREC) {
		struct rec *r = &recs[nrec++];
		r->op = p; p += strlen(p) + 1;
		if (p >= end) { errno = EINVAL; die("plan", "truncated record"); }
		r->argc = atoi(p); p += strlen(p) + 1;
		if (r->argc < 0 || r->argc > MAXARG) { errno = EINVAL; die("plan", "bad argc"); }
		r->argv = calloc(r->argc + 1, sizeof(char *));
		for (int i = 0; i < r->argc; i++) {
			if (p >= end) { errno = EINVAL; die("plan", "truncated args"); }
			r->argv[i] = p; p += strlen(p) + 1;
		}
	}
}

static const char *hdr(const char *op) { /* first arg of the first record named op */
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, op) && recs[i].argc) return recs[i].argv[0];
	return NULL;
}

static void write_file(const char *path, const char *val, const char *step) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) die(step, path);
	if (write(fd, val, strlen(val)) < 0) die(step, path);
	close(fd);
}

/* ---- the monitor's state file: "STATE INITPID MONITORPID MONSTART EXIT" ---- */
static char rundir[1024];
static unsigned long long self_start(void) {
	char b[1024]; int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, b, sizeof b - 1); close(fd);
	if (n <= 0) return 0;
	b[n] = 0;
	char *p = strrchr(b, ')');
	if (!p) return 0;
	/* field 22 (starttime); p points at field 2's end */
	int field = 2; unsigned long long v = 0;
	for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " ")) { if (++field == 22) { v = strtoull(t, 0, 10); break; } }
	return v;
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
	pty_master[npty] = m;
	return npty++;
}

/* Opens REL inside ROOT with every symlink resolved as if ROOT were "/",
 * so a symlink in the container's rootfs cannot point a mount at the host. */
static int open_in_root(const char *root, const char *rel, int flags) {
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) return -1;
	struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, rfd, rel[0] ? rel : ".", &how, sizeof how);
	int e = errno; close(rfd); errno = e;
	return fd;
}

/* mkdir -p of REL inside ROOT, one component at a time, never following a symlink out. */
static void mkdir_in_root(const char *root, const char *rel, int file) {
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
				int dfd = open_in_root(root, parent, O_PATH | O_DIRECTORY);
				if (dfd < 0) die("create", path);
				const char *name = slash ? slash + 1 : path;
				if (last && file) {
					int f = openat(dfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
					if (f < 0 && errno != EISDIR) die("create=file", path);
					if (f >= 0) close(f);
				} else if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST) die("create=dir", path);
				close(dfd);
			}
			*p = c;
			if (last) break;
		}
	}
}

/* ---- the child: executes the plan's operations in order ---- */
static int sync_pipe[2];
static int run_ops(int execute_mode) {
	char **envp = calloc(MAXREC, sizeof(char *));
	int nenv = 0, pty_i = 0;
	for (int i = 0; i < nrec; i++) {
		struct rec *r = &recs[i];
		char **a = r->argv;
		if (!strcmp(r->op, "join")) write_file(a[0], "0", "cgroup-join");
		else if (!strcmp(r->op, "unshare")) { if (unshare(atoi(a[0])) < 0) die("unshare", a[0]); }
		else if (!strcmp(r->op, "mount")) {
			unsigned long fl = strtoul(a[3], 0, 10);
			int optional = r->argc > 5 && !strcmp(a[5], "optional");
			if (mount(a[0][0] ? a[0] : NULL, a[1], a[2][0] ? a[2] : NULL, fl, a[4][0] ? a[4] : NULL) < 0) {
				if (optional) continue;
				char w[600]; snprintf(w, sizeof w, "mount %s on %s", a[0], a[1]); die("mount", w);
			}
		} else if (!strcmp(r->op, "mountin")) { /* ROOT REL SRC FSTYPE FLAGS DATA [optional] */
			int optional = r->argc > 6 && !strcmp(a[6], "optional");
			int fd = open_in_root(a[0], a[1], O_PATH);
			if (fd < 0) { if (optional) continue; die("mount", a[1]); }
			char fdpath[64]; snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
			if (mount(a[2][0] ? a[2] : NULL, fdpath, a[3][0] ? a[3] : NULL, strtoul(a[4], 0, 10), a[5][0] ? a[5] : NULL) < 0) {
				close(fd);
				if (optional) continue;
				char w[600]; snprintf(w, sizeof w, "mount %s on %s", a[2], a[1]); die("mount", w);
			}
			close(fd);
		} else if (!strcmp(r->op, "mkdirin")) mkdir_in_root(a[0], a[1], 0);
		else if (!strcmp(r->op, "mkfilein")) mkdir_in_root(a[0], a[1], 1);
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
		} else if (!strcmp(r->op, "pty")) { /* bind the next monitor-held pty slave onto a path */
			if (pty_i >= npty) { errno = EINVAL; die("pty", "no pty allocated"); }
			int fd = open(a[0], O_CREAT | O_WRONLY | O_CLOEXEC, 0620);
			if (fd >= 0) close(fd);
			if (mount(pty_slave[pty_i], a[0], NULL, MS_BIND, NULL) < 0) die("pty", a[0]);
			pty_i++;
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
			for (int j = 0; j < r->argc; j++) if (prctl(PR_CAPBSET_DROP, atoi(a[j]), 0, 0, 0) < 0 && errno != EINVAL) die("capabilities", a[j]);
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
			for (int fd = 3; fd < 1024; fd++) if (fd != status_fd) close(fd);
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

static int cmd_start(const char *plan) {
	load_plan(plan);
	const char *rd = hdr("rundir"), *mode = hdr("mode");
	if (rd) snprintf(rundir, sizeof rundir, "%s", rd);
	int daemon = mode && !strcmp(mode, "daemon"), execute = mode && !strcmp(mode, "execute");
	int flags = hdr("clone") ? atoi(hdr("clone")) : 0;
	int pdeath = hdr("pdeath") ? atoi(hdr("pdeath")) : SIGKILL;
	if (hdr("status")) status_fd = open(hdr("status"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

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
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "pty")) open_pty();
	if (pipe2(sync_pipe, O_CLOEXEC) < 0) die("pipe", "");
	int cpipe[2];
	if (pipe2(cpipe, O_CLOEXEC) < 0) die("pipe", "");
	int monitor_status = status_fd;

	pid_t c = (pid_t)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
	if (c < 0) die("clone", "");
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, pdeath);
		close(sync_pipe[1]);
		char x; if (read(sync_pipe[0], &x, 1) < 0) {}
		close(sync_pipe[0]);
		close(cpipe[0]);
		status_fd = cpipe[1];
		if (!execute) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); dup2(nul, 2); if (nul > 2) close(nul); }
		}
		return run_ops(execute);
	}
	child_pid = c;
	close(sync_pipe[0]);
	if (write(sync_pipe[1], "g", 1) < 0) {}
	close(sync_pipe[1]);

	/* the child reports an error, or closes the pipe by exec'ing init */
	close(cpipe[1]);
	char cbuf[2048]; size_t cl = 0; ssize_t cn;
	while ((cn = read(cpipe[0], cbuf + cl, sizeof cbuf - 1 - cl)) > 0 || (cn < 0 && errno == EINTR)) if (cn > 0) cl += cn;
	cbuf[cl] = 0;
	close(cpipe[0]);
	int st = 0;
	if (strstr(cbuf, "\"error\"")) {
		set_state("ABORTING", c, -1);
		if (monitor_status >= 0 && write(monitor_status, cbuf, cl) < 0) {}
		waitpid(c, &st, 0);
		set_state("STOPPED", c, st);
		for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "cleanup") && daemon) {
			for (int fd = 3; fd < 1024; fd++) close(fd);
			execv(recs[i].argv[0], recs[i].argv);
		}
		return 1;
	}
	set_state("RUNNING", c, -1);
	status("{\"event\":\"running\",\"pid\":%d}", (int)c);
	if (status_fd >= 0) { close(status_fd); status_fd = -1; }
	if (execute) { signal(SIGINT, fwd); signal(SIGTERM, fwd); signal(SIGHUP, fwd); signal(SIGQUIT, fwd); signal(SIGUSR1, fwd); signal(SIGUSR2, fwd); }

	char buf[4096];
	for (;;) { /* drain the ptys (console output is discarded unless logged) while init lives */
		pid_t w = waitpid(c, &st, WNOHANG);
		if (w == c) break;
		if (w < 0 && errno != EINTR) break;
		int any = 0;
		for (int i = 0; i < npty; i++) { ssize_t n = read(pty_master[i], buf, sizeof buf); if (n > 0) any = 1; }
		if (!any) usleep(20000);
	}
	set_state("STOPPED", c, st);
	for (int i = 0; i < nrec; i++) if (!strcmp(recs[i].op, "cleanup") && daemon) {
		for (int fd = 3; fd < 1024; fd++) close(fd);
		execv(recs[i].argv[0], recs[i].argv);
		_exit(1);
	}
	if (execute) return WIFEXITED(st) ? (WEXITSTATUS(st) == 126 ? 126 : WEXITSTATUS(st)) : 128 + WTERMSIG(st);
	return 0;
}

static int cmd_attach(const char *plan) {
	plain_errors = 1;
	load_plan(plan);
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

int main(int argc, char **argv) {
	if (argc == 3 && !strcmp(argv[1], "start")) return cmd_start(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "attach")) return cmd_attach(argv[2]);
	fprintf(stderr, "usage: lxt-shim start|attach PLANFILE (internal to lxt)\n");
	return 2;
}
