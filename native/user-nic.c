/* lxt-user-nic: the setuid-root helper that gives unprivileged containers a
 * veth on a bridge, as LXC's lxc-user-nic does, with its arguments:
 *
 *   lxt-user-nic create LXCPATH NAME PID veth BRIDGE [NICNAME]
 *   lxt-user-nic delete LXCPATH NAME NETNS-PATH veth BRIDGE HOSTNIC
 *
 * Trusts nothing from the caller beyond what the usernet file grants
 * (/etc/lxt/lxt-usernet, or /etc/lxc/lxc-usernet when invoked as
 * lxc-user-nic; lines "USER veth BRIDGE COUNT" or "@GROUP veth BRIDGE COUNT"):
 * the target network namespace is opened with the caller's own rights (so it
 * must be one of the caller's processes) and must not be the host's; names
 * must be plain interface names; per-user counts are kept in /run/lxt/nics
 * under a lock. The work is done by /sbin/ip with a clean environment. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *prog = "lxt-user-nic";

static void fail(const char *fmt, const char *a) {
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	exit(1);
}

static int ifname_ok(const char *n) {
	size_t l = strlen(n);
	if (l == 0 || l > 15 || !strcmp(n, ".") || !strcmp(n, "..")) return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.')) return 0;
	return 1;
}

/* /sbin/ip ARGS with a clean environment; in NETNS_FD's namespace if >= 0 */
static int ip(int netns_fd, char *const argv[]) {
	pid_t c = fork();
	if (c < 0) return -1;
	if (c == 0) {
		if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) _exit(126);
		char *env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		execve("/sbin/ip", argv, env);
		_exit(127);
	}
	int st;
	while (waitpid(c, &st, 0) < 0) if (errno != EINTR) return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* how many NICs of TYPE on BRIDGE the usernet file grants this user */
static int allowed(const char *file, const char *user, gid_t *groups, int ngroups, const char *type, const char *bridge) {
	FILE *f = fopen(file, "re");
	if (!f) fail("cannot read %s: it grants who may make NICs on which bridge", file);
	char line[512];
	int total = 0;
	while (fgets(line, sizeof line, f)) {
		char who[128], t[32], br[64];
		int n;
		if (line[0] == '#' || sscanf(line, "%127s %31s %63s %d", who, t, br, &n) != 4) continue;
		if (strcmp(t, type) || strcmp(br, bridge) || n <= 0) continue;
		int match = 0;
		if (who[0] == '@') {
			struct group *g = getgrnam(who + 1);
			for (int i = 0; g && i < ngroups && !match; i++) match = groups[i] == g->gr_gid;
		} else match = !strcmp(who, user);
		if (match) total += n;
	}
	fclose(f);
	return total;
}

#define DB "/run/lxt/nics"

/* the lines of the nics db owned by USER on BRIDGE */
static int count_db(FILE *db, const char *user, const char *type, const char *bridge) {
	char line[256];
	int n = 0;
	rewind(db);
	while (fgets(line, sizeof line, db)) {
		char u[128], t[32], br[64], nic[32];
		if (sscanf(line, "%127s %31s %63s %31s", u, t, br, nic) == 4 && !strcmp(u, user) && !strcmp(t, type) && !strcmp(br, bridge)) n++;
	}
	return n;
}

int main(int argc, char **argv) {
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int lxc = !strcmp(base, "lxc-user-nic");
	if (lxc) prog = "lxc-user-nic";
	const char *usernet = lxc ? "/etc/lxc/lxc-usernet" : "/etc/lxt/lxt-usernet";
	if (argc < 7 || (strcmp(argv[1], "create") && strcmp(argv[1], "delete"))) {
		fprintf(stderr, "usage: %s create LXCPATH NAME PID veth BRIDGE [NICNAME]\n       %s delete LXCPATH NAME NETNS-PATH veth BRIDGE HOSTNIC\n", prog, prog);
		return 1;
	}
	int create = !strcmp(argv[1], "create");
	const char *target = argv[4], *type = argv[5], *bridge = argv[6];
	const char *nic = argc > 7 ? argv[7] : "eth0";
	uid_t ruid = getuid();
	gid_t rgid = getgid();
	if (geteuid() != 0) fail("%s must be setuid root", prog);
	if (strcmp(type, "veth")) fail("only veth is supported, not %s", type);
	if (!ifname_ok(bridge)) fail("invalid bridge name %s", bridge);
	if (!ifname_ok(nic)) fail("invalid interface name %s", nic);
	if (strchr(argv[3], '/')) fail("invalid container name %s", argv[3]);
	struct passwd *pw = getpwuid(ruid);
	if (!pw) fail("%s", "the calling user has no passwd entry");
	char user[128];
	snprintf(user, sizeof user, "%s", pw->pw_name);
	gid_t groups[256];
	int ngroups = getgroups(256, groups);
	if (ngroups < 0) ngroups = 0;
	if (ngroups < 256) groups[ngroups++] = rgid;

	/* the namespace, opened with the caller's rights only */
	char nspath[128];
	if (create) {
		for (const char *p = target; *p; p++) if (*p < '0' || *p > '9') fail("invalid pid %s", target);
		snprintf(nspath, sizeof nspath, "/proc/%s/ns/net", target);
	} else {
		if (strncmp(target, "/proc/", 6) || strstr(target, "..")) fail("the namespace must be given as /proc/PID/ns/net, not %s", target);
		snprintf(nspath, sizeof nspath, "%s", target);
	}
	if (setresgid(-1, rgid, -1) < 0 || setresuid(-1, ruid, -1) < 0) fail("%s", "cannot take the caller's identity");
	int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	int e = errno;
	if (setresuid(-1, 0, -1) < 0 || setresgid(-1, 0, -1) < 0) fail("%s", "cannot take back root");
	if (nsfd < 0) { errno = e; fail("cannot open %s as the caller: not your process, or gone", nspath); }
	struct stat a, b;
	if (fstat(nsfd, &a) < 0 || stat("/proc/self/ns/net", &b) < 0) fail("%s", "cannot stat the namespaces");
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) fail("%s is the host's network namespace", nspath);

	char brpath[128];
	snprintf(brpath, sizeof brpath, "/sys/class/net/%s/bridge", bridge);
	if (access(brpath, F_OK) < 0) fail("%s is not a bridge", bridge);

	mkdir("/run/lxt", 0755);
	int dbfd = open(DB, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (dbfd < 0 || flock(dbfd, LOCK_EX) < 0) fail("cannot lock %s", DB);
	FILE *db = fdopen(dbfd, "r+");
	if (!db) fail("cannot read %s", DB);

	if (create) {
		int have = count_db(db, user, type, bridge), may = allowed(usernet, user, groups, ngroups, type, bridge);
		if (may == 0) fail("not allowed to create veth interfaces on %s (see the usernet file)", bridge);
		if (have >= may) fail("quota reached: no more veth interfaces on %s for this user", bridge);
		char host[16], peer[16], fdpath[64];
		int rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		unsigned int r = 0;
		if (rnd < 0 || read(rnd, &r, sizeof r) != sizeof r) fail("%s", "no randomness");
		close(rnd);
		snprintf(host, sizeof host, "veth%06x", r & 0xffffff);
		snprintf(peer, sizeof peer, "vp%06x", r & 0xffffff);
		/* ip gets the namespace as a path to our fd: the namespace we checked, not a pid that may be reused */
		int nsfd2 = dup(nsfd); /* without CLOEXEC, for ip */
		snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", nsfd2);
		char *mk[] = { "ip", "link", "add", "name", host, "type", "veth", "peer", "name", peer, NULL };
		if (ip(-1, mk)) fail("cannot make the veth pair %s", host);
		char *br[] = { "ip", "link", "set", "dev", host, "master", (char *)bridge, "up", NULL };
		char *mv[] = { "ip", "link", "set", "dev", peer, "netns", fdpath, NULL };
		char *rn[] = { "ip", "link", "set", "dev", peer, "name", (char *)nic, NULL };
		if (ip(-1, br) || ip(-1, mv) || ip(nsfd, rn)) {
			char *del[] = { "ip", "link", "del", host, NULL };
			ip(-1, del);
			fail("cannot attach %s, or move its peer into the namespace (does it have that name already?)", host);
		}
		fseek(db, 0, SEEK_END);
		fprintf(db, "%s %s %s %s\n", user, type, bridge, host);
		fflush(db);
		printf("%s:%s\n", nic, host);
		return 0;
	}
	/* delete: only a NIC this user made, recorded in the db */
	const char *hostnic = nic;
	char line[256], *keep = calloc(1, 65536);
	size_t kl = 0;
	int found = 0;
	rewind(db);
	while (fgets(line, sizeof line, db)) {
		char u[128], t[32], br[64], n[32];
		if (!found && sscanf(line, "%127s %31s %63s %31s", u, t, br, n) == 4 && !strcmp(u, user) && !strcmp(t, type) && !strcmp(br, bridge) && !strcmp(n, hostnic)) { found = 1; continue; }
		if (kl + strlen(line) < 65535) { strcpy(keep + kl, line); kl += strlen(line); }
	}
	if (!found) fail("%s is not a NIC of yours on that bridge", hostnic);
	char *del[] = { "ip", "link", "del", (char *)hostnic, NULL };
	if (ip(-1, del)) fprintf(stderr, "%s: %s was already gone\n", prog, hostnic);
	if (ftruncate(dbfd, 0) < 0) fail("cannot rewrite %s", DB);
	rewind(db);
	fputs(keep, db);
	fflush(db);
	return 0;
}
