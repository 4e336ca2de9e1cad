/* probe: the attacker's side of the CVE regression suite, run inside containers.
 *
 * One static binary (busybox has no keyctl, ptrace, renameat2 or inotify):
 *   probe keyring DESC NEW [add]     search @u and @s for a "user" key DESC, read it, set it to NEW;
 *                                    with "add", also add a key "DESC-added" to each keyring
 *   probe sys NR [ARG...]            syscall(NR, ARG...); ARG: integer, s:STRING, z:N (N zero bytes)
 *   probe ptrace PID                 PTRACE_ATTACH, then detach
 *   probe procscan SECONDS           open /proc/<pid>/{exe,cwd,root,fd/N} of every other process
 *   probe exchange A B SECONDS       swap A and B with renameat2(RENAME_EXCHANGE) in a loop
 *   probe swapin DIR N TARGET SEC    as soon as DIR/p<i> appears (i = 0..N-1, in order), swap it
 *                                    atomically with a ready symlink to TARGET (spinning, no inotify)
 *   probe cgroup-agent DIR CTRL [userns]  (with userns: unshare(user|mount|cgroup) and map root first)
 *                                    mount cgroup v1 CTRL on DIR, then rewrite DIR/release_agent with
 *                                    the value it has (the write is the test; the host keeps its value)
 *   probe open PATH r|w|rw|dir       open(2) and say what happened
 * Every outcome is printed as one line ("<what> ok ..." or "<what> err <errno> <name>"),
 * so the host side can parse it; the exit status is 0 unless the arguments were wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEYCTL_UPDATE 2
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11
#define KEY_SPEC_SESSION_KEYRING (-3)
#define KEY_SPEC_USER_KEYRING (-4)

static void report(const char *what, long ret) {
    if (ret < 0)
        printf("%s err %d %s\n", what, errno, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    else
        printf("%s ok %ld\n", what, ret);
    fflush(stdout);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int keyring(const char *desc, const char *value, int add) {
    long rings[2] = {KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING};
    const char *names[2] = {"@u", "@s"};
    char added[128];
    snprintf(added, sizeof added, "%s-added", desc);
    for (int i = 0; i < 2; i++) {
        char what[64];
        snprintf(what, sizeof what, "search%s", names[i]);
        long key = syscall(SYS_keyctl, KEYCTL_SEARCH, rings[i], "user", desc, 0);
        report(what, key);
        if (add) {
            snprintf(what, sizeof what, "add%s", names[i]);
            report(what, syscall(SYS_add_key, "user", added, "x", 1, rings[i]));
        }
        if (key < 0)
            continue;
        char buf[256] = {0};
        long n = syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof buf - 1);
        if (n >= 0)
            printf("read%s payload %.*s\n", names[i], (int)(n < 255 ? n : 255), buf);
        else
            report("read", n);
        snprintf(what, sizeof what, "update%s", names[i]);
        report(what, syscall(SYS_keyctl, KEYCTL_UPDATE, key, value, strlen(value)));
    }
    report("request_key", syscall(SYS_request_key, "user", desc, NULL, KEY_SPEC_USER_KEYRING));
    return 0;
}

static int sys(int argc, char **argv) {
    long args[6] = {0};
    for (int i = 0; i < argc && i < 6; i++) {
        if (!strncmp(argv[i], "s:", 2))
            args[i] = (long)(argv[i] + 2);
        else if (!strncmp(argv[i], "z:", 2))
            args[i] = (long)calloc(1, strtoul(argv[i] + 2, NULL, 0));
        else
            args[i] = strtol(argv[i], NULL, 0);
    }
    report("sys", syscall(strtol(argv[-1], NULL, 0), args[0], args[1], args[2], args[3], args[4], args[5]));
    return 0;
}

static int do_ptrace(pid_t pid) {
    long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
    report("attach", r);
    if (r == 0) {
        waitpid(pid, NULL, __WALL);
        ptrace(PTRACE_DETACH, pid, 0, 0);
    }
    return 0;
}

/* What procscan reported already: "<pid> <kind> <dev> <ino>" lines. */
static char seen[4096][320];
static int nseen;

/* One successful open: "opened <pid> <kind> <dev> <ino> <mode> <seals> <link>" (seals: F_GET_SEALS, -1 if none). */
static void note(int pid, const char *kind, const char *path, int fd) {
    struct stat st;
    char line[320], link[256] = "?";
    if (fstat(fd, &st) < 0)
        return;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return; /* pipes, sockets, ttys: no path into any file system */
    snprintf(line, sizeof line, "%d %s %lu %lu", pid, kind, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    for (int i = 0; i < nseen; i++)
        if (!strcmp(seen[i], line))
            return;
    if (nseen < 4096)
        strcpy(seen[nseen++], line);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n >= 0)
        link[n] = 0;
    printf("opened %s %o %d %s\n", line, st.st_mode, fcntl(fd, F_GET_SEALS), link);
    fflush(stdout);
}

static void scan_pid(int pid) {
    char path[96];
    const char *kinds[3] = {"exe", "cwd", "root"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "/proc/%d/%s", pid, kinds[k]);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0) {
            note(pid, kinds[k], path, fd);
            close(fd);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
        printf("writable %d exe\n", pid);
        close(w);
    }
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char fdpath[300], kind[300];
        snprintf(fdpath, sizeof fdpath, "/proc/%d/fd/%s", pid, e->d_name);
        snprintf(kind, sizeof kind, "fd/%s", e->d_name);
        int fd = open(fdpath, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0) {
            note(pid, kind, fdpath, fd);
            close(fd);
        }
    }
    closedir(d);
}

static int procscan(double seconds) {
    int self = getpid();
    double end = now() + seconds;
    long rounds = 0;
    printf("ready\n");
    fflush(stdout);
    while (now() < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while ((e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid > 0 && pid != self)
                scan_pid(pid);
        }
        closedir(d);
        rounds++;
    }
    printf("rounds %ld\n", rounds);
    return 0;
}

static int exchange(const char *a, const char *b, double seconds) {
    double end = now() + seconds;
    long n = 0;
    while (now() < end) {
        if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0)
            n++;
    }
    printf("exchanges %ld\n", n);
    return 0;
}

static int swapin(const char *dir, int n, const char *target, double seconds) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        report("open", -1);
        return 1;
    }
    char name[32], spare[32];
    for (int i = 0; i < n; i++) {
        snprintf(spare, sizeof spare, ".s%d", i);
        if (symlinkat(target, dfd, spare) < 0) {
            report("symlink", -1);
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    double end = now() + seconds;
    long swapped = 0;
    for (int i = 0; i < n && now() < end;) {
        snprintf(name, sizeof name, "p%d", i);
        snprintf(spare, sizeof spare, ".s%d", i);
        if (syscall(SYS_renameat2, dfd, spare, dfd, name, 2 /* RENAME_EXCHANGE */) == 0) {
            swapped++;
            i++;
        }
    }
    printf("swapped %ld\n", swapped);
    return 0;
}

static int cgroup_agent(const char *dir, const char *ctrl, int userns) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    long r = userns ? unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) : -1;
    if (userns)
        report("unshare", r);
    if (r == 0) {
        char map[64];
        int fd = open("/proc/self/setgroups", O_WRONLY);
        if (fd >= 0) {
            write(fd, "deny", 4);
            close(fd);
        }
        snprintf(map, sizeof map, "0 %d 1", uid);
        fd = open("/proc/self/uid_map", O_WRONLY);
        report("uid_map", fd < 0 ? -1 : write(fd, map, strlen(map)));
        snprintf(map, sizeof map, "0 %d 1", gid);
        fd = open("/proc/self/gid_map", O_WRONLY);
        report("gid_map", fd < 0 ? -1 : write(fd, map, strlen(map)));
    }
    mkdir(dir, 0755);
    r = mount("cgroup", dir, "cgroup", 0, ctrl);
    report("mount", r);
    if (r < 0)
        return 0;
    char path[256];
    snprintf(path, sizeof path, "%s/release_agent", dir);
    int fd = open(path, O_RDWR);
    report("open-release_agent", fd);
    if (fd >= 0) {
        char old[4096] = {0};
        ssize_t n = read(fd, old, sizeof old - 1);
        if (n < 0)
            n = 0;
        if (n == 0 || old[n - 1] != '\n')
            old[n++] = '\n';
        /* the value it has already: proves the write is allowed without changing the host */
        report("write-release_agent", pwrite(fd, old, n, 0));
        close(fd);
    }
    umount2(dir, MNT_DETACH);
    return 0;
}

static int do_open(const char *path, const char *mode) {
    int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (!strcmp(mode, "r"))
        flags |= O_RDONLY;
    else if (!strcmp(mode, "w"))
        flags |= O_WRONLY;
    else if (!strcmp(mode, "rw"))
        flags |= O_RDWR;
    else if (!strcmp(mode, "dir"))
        flags |= O_RDONLY | O_DIRECTORY;
    int fd = open(path, flags);
    report("open", fd);
    if (fd >= 0 && strcmp(mode, "w") && strcmp(mode, "dir")) {
        char buf[512];
        report("read", read(fd, buf, sizeof buf));
    }
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "keyring") && (argc == 4 || (argc == 5 && !strcmp(argv[4], "add"))))
        return keyring(argv[2], argv[3], argc == 5);
    if (!strcmp(cmd, "sys") && argc >= 3)
        return sys(argc - 3, argv + 3);
    if (!strcmp(cmd, "ptrace") && argc == 3)
        return do_ptrace(atoi(argv[2]));
    if (!strcmp(cmd, "procscan") && argc == 3)
        return procscan(atof(argv[2]));
    if (!strcmp(cmd, "exchange") && argc == 5)
        return exchange(argv[2], argv[3], atof(argv[4]));
    if (!strcmp(cmd, "swapin") && argc == 6)
        return swapin(argv[2], atoi(argv[3]), argv[4], atof(argv[5]));
    if (!strcmp(cmd, "cgroup-agent") && (argc == 4 || (argc == 5 && !strcmp(argv[4], "userns"))))
        return cgroup_agent(argv[2], argv[3], argc == 5);
    if (!strcmp(cmd, "open") && argc == 4)
        return do_open(argv[2], argv[3]);
    fprintf(stderr, "probe: bad arguments\n");
    return 2;
}
