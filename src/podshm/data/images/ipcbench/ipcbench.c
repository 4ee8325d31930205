// SPDX-License-Identifier: Apache-2.0
//
// podshm-ipcbench: one peer (server or client) of a two-process IPC benchmark.
//
// The compiled inner loop of `podshm bench`: the same measurement as podshm's Python peer
// (src/podshm/ipc/bench/), with the same wire protocol, object names and rendezvous file,
// so a C server and a Python client can talk to each other. Built statically (gcc -O2
// -static) into the test image as /usr/local/bin/podshm-ipcbench and into podshm's cache
// for the host baseline, so both sides of every pod/host ratio run the same machine code.
//
// Transports: tcp (127.0.0.1), uds (stream socket in --dir), fifo (named pipes in --dir),
// posix-shm (shm_open ring + named POSIX semaphores), sysv-shm (shmget ring + SysV
// semaphores), posix-mq (mq_open), sysv-mq (msgget, type 1 client->server, 2 back).
//
// Modes (what is timed, with CLOCK_MONOTONIC):
//   lat  the client takes a timestamp, sends one message, waits until the server's echo
//        has been read completely, takes another; one sample = (t1 - t0) / 2. Samples
//        from the first --warmup seconds are dropped. p50/p90/p99/mean/min/max reported.
//   thr  the client sends back to back for --budget seconds; the server timestamps the
//        complete arrival of every message; rate = (n - 1) / (t_last - t_first) over the
//        messages arriving after --warmup seconds.
//
// Every message carries a 16-byte header {u64 seq, u32 magic|flags, u32 size} and the
// seq again in its last 8 bytes; receivers check both (--verify full also checks every
// payload byte and reports CRC-32s of everything sent and received).
//
// Output: one JSON object on stdout; exit 0 ok, 1 IPC call failed, 2 usage, 3 timeout
// (--timeout bounds the whole run, rendezvous included), 4 content mismatch.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define VERSION "1"
#define PROTOCOL 1

enum { EXIT_OK = 0, EXIT_IPC = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_MISMATCH = 4 };
enum { T_TCP, T_UDS, T_FIFO, T_POSIX_SHM, T_SYSV_SHM, T_POSIX_MQ, T_SYSV_MQ, T_COUNT };
static const char *const TRANSPORTS[T_COUNT] = {
    "tcp", "uds", "fifo", "posix-shm", "sysv-shm", "posix-mq", "sysv-mq",
};

#define HEADER 16
#define TRAILER 8
#define MIN_SIZE 32
#define MAX_SIZE (64u << 20)
#define MQ_MAX_SIZE 8192     // fs.mqueue.msgsize_max and kernel.msgmax defaults
#define RING_BYTES 65536     // shm ring per direction: a pipe's default capacity
#define RING_MAX_SLOTS 1024
#define MQ_DEPTH 10          // fs.mqueue.msg_max default: unprivileged queues get no more
#define MAGIC 0x50440000u    // "PD" in the high half of the flags word
#define FLAG_STOP 1u
#define MAX_SAMPLES 4000000  // 32 MB of samples at most; later round trips are not recorded

// Semaphore indices: [dir * 2 + FULL] counts filled slots, [dir * 2 + FREE] free ones.
enum { C2S = 0, S2C = 1, FULL = 0, FREE = 1 };
static const char *const SEM_SUFFIX[4] = {"c2s-full", "c2s-free", "s2c-full", "s2c-free"};

struct options {
    int transport, server, lat, verify_full, cpu;
    size_t size;
    double budget_s, warmup_s, timeout_s;
    long count;
    const char *dir, *tag;
};

struct chan {
    int fd;                // tcp/uds: the connected socket
    int rfd, wfd;          // fifo
    unsigned char *base;   // shm: mapping of both rings
    size_t map_len, slots, ridx, widx;
    sem_t *psem[4];
    int semid[4];
    mqd_t mq[2];
    int msqid;
    unsigned char *msgbuf;  // sysv-mq: long mtype + payload
    int shmid;
};

struct counters {
    uint64_t sent, received, measured;
    uint32_t crc_sent, crc_recv;
    double window_s;
};

// What the server created, for removal at exit (also from the timeout handler).
static struct {
    char files[3][PATH_MAX];
    int nfiles;
    char shm_name[NAME_MAX], sem_names[4][NAME_MAX], mq_names[2][NAME_MAX];
    int nsems, nmq, shmid, semids[4], nsemids, msqid;
} owned = {.shmid = -1, .msqid = -1};

static struct options opt = {.cpu = -1, .size = 64, .budget_s = 0.1, .timeout_s = 10.0};
static struct timespec started;
static char objects_json[2048] = "";
static char timeout_json[1024];

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double elapsed_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)(ts.tv_sec - started.tv_sec) + (double)(ts.tv_nsec - started.tv_nsec) * 1e-9;
}

// ---------------------------------------------------------------- clean-up and errors

static void remove_owned(void) {
    for (int i = 0; i < owned.nfiles; i++) unlink(owned.files[i]);
    if (owned.shm_name[0]) shm_unlink(owned.shm_name);
    for (int i = 0; i < owned.nsems; i++) sem_unlink(owned.sem_names[i]);
    for (int i = 0; i < owned.nmq; i++) mq_unlink(owned.mq_names[i]);
    if (owned.shmid >= 0) shmctl(owned.shmid, IPC_RMID, NULL);
    for (int i = 0; i < owned.nsemids; i++) semctl(owned.semids[i], 0, IPC_RMID);
    if (owned.msqid >= 0) msgctl(owned.msqid, IPC_RMID, NULL);
    owned.nfiles = owned.nsems = owned.nmq = owned.nsemids = 0;
    owned.shm_name[0] = 0;
    owned.shmid = owned.msqid = -1;
}

static void add_object(const char *kind, const char *name) {
    size_t n = strlen(objects_json), room = sizeof objects_json - n;
    int w = snprintf(objects_json + n, room, "%s\"%s:%s\"", n ? "," : "", kind, name);
    if (w < 0 || (size_t)w >= room) objects_json[n] = 0;  // listing is informative only
}

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        if ((unsigned char)*s < 0x20) fprintf(out, "\\u%04x", *s);
        else fputc(*s, out);
    }
    fputc('"', out);
}

static void head(FILE *out, int ok) {
    fprintf(out,
            "{\"command\":\"ipcbench\",\"ok\":%s,\"impl\":\"c\",\"version\":\"%s\","
            "\"protocol\":%d,\"transport\":\"%s\",\"role\":\"%s\",\"mode\":\"%s\",\"size\":%zu,"
            "\"tag\":",
            ok ? "true" : "false", VERSION, PROTOCOL,
            opt.transport >= 0 ? TRANSPORTS[opt.transport] : "?", opt.server ? "server" : "client",
            opt.lat ? "lat" : "thr", opt.size);
    json_string(out, opt.tag ? opt.tag : "");
}

// Print the error JSON, remove what the server created and exit.
static void die(int code, const char *errname, const char *fmt, ...) {
    int saved = errno;
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    remove_owned();
    head(stdout, 0);
    fprintf(stdout, ",\"objects\":[%s],\"elapsed_s\":%.3f,\"error\":{\"errno\":", objects_json,
            elapsed_s());
    if (errname) json_string(stdout, errname);
    else fputs("null", stdout);
    fputs(",\"message\":", stdout);
    json_string(stdout, code == EXIT_TIMEOUT    ? "timed out"
                        : code == EXIT_MISMATCH ? "content mismatch"
                        : code == EXIT_USAGE    ? "bad usage"
                                                : (errname ? strerror(saved) : reason));
    fputs(",\"reason\":", stdout);
    json_string(stdout, reason);
    fputs("}}\n", stdout);
    fflush(stdout);
    _exit(code);
}

static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EPERM: return "EPERM";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case ENOSYS: return "ENOSYS";
    case EIDRM: return "EIDRM";
    case E2BIG: return "E2BIG";
    case EMSGSIZE: return "EMSGSIZE";
    default: return "EIO";
    }
}

#define SYSFAIL(what, ...) die(EXIT_IPC, errno_name(errno), what ": %s", ##__VA_ARGS__, strerror(errno))

static void on_alarm(int sig) {
    (void)sig;
    // Only async-signal-safe calls: the JSON was formatted before the timer was armed.
    remove_owned();
    ssize_t w = write(STDOUT_FILENO, timeout_json, strlen(timeout_json));
    (void)w;
    _exit(EXIT_TIMEOUT);
}

static void arm_timeout(void) {
    FILE *mem = fmemopen(timeout_json, sizeof timeout_json, "w");
    head(mem, 0);
    fprintf(mem,
            ",\"elapsed_s\":%.3f,\"error\":{\"errno\":\"ETIMEDOUT\",\"message\":\"timed out\","
            "\"reason\":\"the run did not finish within --timeout %.3g s: the peer did not start "
            "or stopped, or they use different --dir/--tag\"}}\n",
            opt.timeout_s, opt.timeout_s);
    fclose(mem);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct itimerval it = {0};
    it.it_value.tv_sec = (time_t)opt.timeout_s;
    it.it_value.tv_usec = (suseconds_t)((opt.timeout_s - (double)(time_t)opt.timeout_s) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);
}

// ---------------------------------------------------------------- messages

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

// zlib.crc32-compatible, chained: crc32(b, crc32(a)) == crc32(a + b).
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void stamp(unsigned char *buf, uint64_t seq, uint32_t flags) {
    uint32_t word = MAGIC | flags, size = (uint32_t)opt.size;
    memcpy(buf, &seq, 8);
    memcpy(buf + 8, &word, 4);
    memcpy(buf + 12, &size, 4);
    memcpy(buf + opt.size - TRAILER, &seq, 8);
    if (opt.verify_full)
        for (size_t j = HEADER; j < opt.size - TRAILER; j++) buf[j] = (unsigned char)(seq + j);
}

// Check a received message; returns its flags. A mismatch ends the run (exit 4).
static uint32_t check(const unsigned char *buf, uint64_t want) {
    uint64_t seq, tail;
    uint32_t word, size;
    memcpy(&seq, buf, 8);
    memcpy(&word, buf + 8, 4);
    memcpy(&size, buf + 12, 4);
    memcpy(&tail, buf + opt.size - TRAILER, 8);
    if ((word & 0xffff0000u) != MAGIC || size != opt.size)
        die(EXIT_MISMATCH, NULL, "message %llu: bad header (magic/flags 0x%08x, size %u, want %zu)",
            (unsigned long long)want, word, size, opt.size);
    if (seq != want || tail != want)
        die(EXIT_MISMATCH, NULL,
            "message %llu: header seq %llu, trailer seq %llu (lost, reordered or torn message)",
            (unsigned long long)want, (unsigned long long)seq, (unsigned long long)tail);
    if (opt.verify_full)
        for (size_t j = HEADER; j < opt.size - TRAILER; j++)
            if (buf[j] != (unsigned char)(seq + j))
                die(EXIT_MISMATCH, NULL, "message %llu: payload byte %zu is 0x%02x, want 0x%02x",
                    (unsigned long long)seq, j, buf[j], (unsigned char)(seq + j));
    return word & 0xffffu;
}

// ---------------------------------------------------------------- rendezvous

static void path_in_dir(char *out, const char *suffix) {
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s%s", opt.dir, opt.tag, suffix) >= PATH_MAX)
        die(EXIT_USAGE, NULL, "--dir and --tag make a path longer than PATH_MAX");
}

static void own_file(const char *path) {
    if (owned.nfiles < (int)(sizeof owned.files / sizeof owned.files[0]))
        snprintf(owned.files[owned.nfiles++], PATH_MAX, "%s", path);
}

static void posix_name(char *out, const char *suffix) {
    snprintf(out, NAME_MAX, "/podshm-b-%s%s%s", opt.tag, suffix[0] ? "-" : "", suffix);
}

// The server's "ready" file: key=value lines, written to a temporary name and renamed.
static void publish(const char *text) {
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    path_in_dir(path, ".ready");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) SYSFAIL("cannot create the ready file %s", tmp);
    dprintf(fd, "podshm-ipcbench-ready %d\n%s", PROTOCOL, text);
    close(fd);
    own_file(path);
    add_object("file", path);
    if (rename(tmp, path) != 0) SYSFAIL("cannot rename %s", tmp);
}

// Wait (bounded by the alarm) for the server's ready file; cache its text.
static const char *ready_text(void) {
    static char text[1024];
    if (text[0]) return text;
    char path[PATH_MAX], header[64];
    path_in_dir(path, ".ready");
    int fd;
    struct timespec pause = {0, 500000};
    while ((fd = open(path, O_RDONLY)) < 0) {
        if (errno != ENOENT) SYSFAIL("cannot open the ready file %s", path);
        nanosleep(&pause, NULL);
    }
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = 0;
    snprintf(header, sizeof header, "podshm-ipcbench-ready %d\n", PROTOCOL);
    if (strncmp(text, header, strlen(header)))
        die(EXIT_IPC, "EPROTO", "%s is not a protocol %d ready file", path, PROTOCOL);
    return text;
}

// The text after "key=" in the ready file (up to the end of its line).
static const char *ready_value(const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\n%s=", key);
    const char *at = strstr(ready_text(), pattern);
    if (!at) die(EXIT_IPC, "EPROTO", "the ready file has no %s", key);
    return at + strlen(pattern);
}

// ---------------------------------------------------------------- byte streams

static void write_all(int fd, const unsigned char *buf, size_t n) {
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            SYSFAIL("write to the peer failed");
        }
        buf += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, unsigned char *buf, size_t n) {
    while (n) {
        ssize_t r = read(fd, buf, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            SYSFAIL("read from the peer failed");
        }
        if (r == 0) die(EXIT_IPC, "EPIPE", "the peer closed the connection mid-run");
        buf += r;
        n -= (size_t)r;
    }
}

static void sock_setup(struct chan *ch) {
    int one = 1;
    if (opt.transport == T_TCP) {
        struct sockaddr_in addr = {.sin_family = AF_INET};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) SYSFAIL("socket(AF_INET)");
        if (opt.server) {
            socklen_t len = sizeof addr;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 1) ||
                getsockname(fd, (struct sockaddr *)&addr, &len))
                SYSFAIL("bind/listen on 127.0.0.1");
            char text[64];
            snprintf(text, sizeof text, "port=%d\n", ntohs(addr.sin_port));
            publish(text);
            ch->fd = accept(fd, NULL, NULL);
            if (ch->fd < 0) SYSFAIL("accept");
            close(fd);
        } else {
            addr.sin_port = htons((uint16_t)strtol(ready_value("port"), NULL, 10));
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) SYSFAIL("connect 127.0.0.1");
            ch->fd = fd;
        }
        setsockopt(ch->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char path[PATH_MAX];
    path_in_dir(path, ".sock");
    if (strlen(path) >= sizeof addr.sun_path)
        die(EXIT_USAGE, NULL, "socket path %s is longer than %zu bytes", path,
            sizeof addr.sun_path - 1);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) SYSFAIL("socket(AF_UNIX)");
    if (opt.server) {
        unlink(path);
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr)) SYSFAIL("bind %s", path);
        own_file(path);
        add_object("file", path);
        if (listen(fd, 1)) SYSFAIL("listen %s", path);
        publish("");
        ch->fd = accept(fd, NULL, NULL);
        if (ch->fd < 0) SYSFAIL("accept on %s", path);
        close(fd);
    } else {
        ready_text();
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) SYSFAIL("connect %s", path);
        ch->fd = fd;
    }
}

// Both sides open c2s before s2c, so the blocking FIFO opens pair up without deadlock.
static void fifo_setup(struct chan *ch) {
    char c2s[PATH_MAX], s2c[PATH_MAX];
    path_in_dir(c2s, ".c2s");
    path_in_dir(s2c, ".s2c");
    if (opt.server) {
        for (int d = 0; d < (opt.lat ? 2 : 1); d++) {
            const char *p = d ? s2c : c2s;
            unlink(p);
            if (mkfifo(p, 0600)) SYSFAIL("mkfifo %s", p);
            own_file(p);
            add_object("fifo", p);
        }
        publish("");
        if ((ch->rfd = open(c2s, O_RDONLY)) < 0) SYSFAIL("open %s", c2s);
        if (opt.lat && (ch->wfd = open(s2c, O_WRONLY)) < 0) SYSFAIL("open %s", s2c);
    } else {
        ready_text();
        if ((ch->wfd = open(c2s, O_WRONLY)) < 0) SYSFAIL("open %s", c2s);
        if (opt.lat && (ch->rfd = open(s2c, O_RDONLY)) < 0) SYSFAIL("open %s", s2c);
    }
}

// ---------------------------------------------------------------- shared-memory rings

static size_t ring_slots(void) {
    size_t slots = RING_BYTES / opt.size;
    return opt.lat ? 1 : slots < 2 ? 2 : slots > RING_MAX_SLOTS ? RING_MAX_SLOTS : slots;
}

static key_t fresh_key(void) {
    static uint32_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t k = ((uint32_t)getpid() << 12) ^ (uint32_t)ts.tv_nsec ^ (++counter * 2654435761u);
    return (key_t)(k & 0x7fffffff) | 1;
}

static void posix_shm_setup(struct chan *ch, int nsems) {
    char name[NAME_MAX];
    int fd;
    posix_name(name, "");
    if (opt.server) {
        shm_unlink(name);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0) SYSFAIL("shm_open %s", name);
        snprintf(owned.shm_name, NAME_MAX, "%s", name);
        add_object("posix-shm", name);
        if (ftruncate(fd, (off_t)ch->map_len)) SYSFAIL("ftruncate %s", name);
    } else {
        ready_text();
        if ((fd = shm_open(name, O_RDWR, 0)) < 0) SYSFAIL("shm_open %s", name);
    }
    for (int i = 0; i < nsems; i++) {
        posix_name(name, SEM_SUFFIX[i]);
        if (opt.server) {
            sem_unlink(name);
            unsigned init = (i % 2 == FREE) ? (unsigned)ch->slots : 0;
            ch->psem[i] = sem_open(name, O_CREAT | O_EXCL, 0600, init);
            if (ch->psem[i] != SEM_FAILED) {
                snprintf(owned.sem_names[owned.nsems++], NAME_MAX, "%s", name);
                add_object("posix-sem", name);
            }
        } else {
            ch->psem[i] = sem_open(name, 0);
        }
        if (ch->psem[i] == SEM_FAILED) SYSFAIL("sem_open %s", name);
    }
    ch->base = mmap(NULL, ch->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ch->base == MAP_FAILED) SYSFAIL("mmap of %zu bytes", ch->map_len);
    close(fd);
    if (opt.server) publish("");
}

// Creates a SysV object under a fresh random key (IPC_EXCL: never someone else's).
static int sysv_create(int (*get)(key_t, size_t, int), size_t arg, key_t *key) {
    int id;
    do {
        *key = fresh_key();
        id = get(*key, arg, IPC_CREAT | IPC_EXCL | 0600);
    } while (id < 0 && errno == EEXIST);
    return id;
}

static int get_shm(key_t key, size_t size, int flags) { return shmget(key, size, flags); }
static int get_sem(key_t key, size_t n, int flags) { return semget(key, (int)n, flags); }
static int get_msg(key_t key, size_t unused, int flags) {
    (void)unused;
    return msgget(key, flags);
}

static void sysv_shm_setup(struct chan *ch, int nsems) {
    if (opt.server) {
        char text[256], hex[16];
        key_t key;
        ch->shmid = sysv_create(get_shm, ch->map_len, &key);
        if (ch->shmid < 0) SYSFAIL("shmget of %zu bytes", ch->map_len);
        owned.shmid = ch->shmid;
        snprintf(hex, sizeof hex, "0x%08x", key);
        add_object("sysv-shm", hex);
        int len = snprintf(text, sizeof text, "shm_key=%d\nsem_keys=", key);
        for (int i = 0; i < nsems; i++) {
            ch->semid[i] = sysv_create(get_sem, 1, &key);
            if (ch->semid[i] < 0) SYSFAIL("semget");
            owned.semids[owned.nsemids++] = ch->semid[i];
            snprintf(hex, sizeof hex, "0x%08x", key);
            add_object("sysv-sem", hex);
            if (semctl(ch->semid[i], 0, SETVAL, (i % 2 == FREE) ? (int)ch->slots : 0))
                SYSFAIL("semctl SETVAL");
            len += snprintf(text + len, sizeof text - (size_t)len, "%s%d", i ? "," : "", key);
        }
        snprintf(text + len, sizeof text - (size_t)len, "\n");
        ch->base = shmat(ch->shmid, NULL, 0);
        if (ch->base == (void *)-1) SYSFAIL("shmat");
        publish(text);
        return;
    }
    ch->shmid = shmget((key_t)strtol(ready_value("shm_key"), NULL, 10), 0, 0);
    if (ch->shmid < 0) SYSFAIL("shmget (open)");
    ch->base = shmat(ch->shmid, NULL, 0);
    if (ch->base == (void *)-1) SYSFAIL("shmat");
    const char *p = ready_value("sem_keys");
    for (int i = 0; i < nsems; i++) {
        char *end;
        ch->semid[i] = semget((key_t)strtol(p, &end, 10), 1, 0);
        if (ch->semid[i] < 0) SYSFAIL("semget (open)");
        p = *end == ',' ? end + 1 : end;
    }
}

static void shm_setup(struct chan *ch) {
    int dirs = opt.lat ? 2 : 1;
    ch->slots = ring_slots();
    ch->map_len = (size_t)dirs * ch->slots * opt.size;
    if (opt.transport == T_POSIX_SHM) posix_shm_setup(ch, dirs * 2);
    else sysv_shm_setup(ch, dirs * 2);
}

static inline void sem_down(struct chan *ch, int i) {
    if (opt.transport == T_POSIX_SHM) {
        while (sem_wait(ch->psem[i]))
            if (errno != EINTR) SYSFAIL("sem_wait");
    } else {
        struct sembuf op = {0, -1, 0};
        while (semop(ch->semid[i], &op, 1))
            if (errno != EINTR) SYSFAIL("semop(-1)");
    }
}

static inline void sem_up(struct chan *ch, int i) {
    if (opt.transport == T_POSIX_SHM) {
        if (sem_post(ch->psem[i])) SYSFAIL("sem_post");
    } else {
        struct sembuf op = {0, 1, 0};
        if (semop(ch->semid[i], &op, 1)) SYSFAIL("semop(+1)");
    }
}

static inline unsigned char *slot(struct chan *ch, int dir, size_t idx) {
    return ch->base + ((size_t)dir * ch->slots + idx) * opt.size;
}

// ---------------------------------------------------------------- message queues

static void mq_setup(struct chan *ch) {
    int dirs = opt.lat ? 2 : 1;
    if (opt.transport == T_POSIX_MQ) {
        struct mq_attr attr = {.mq_maxmsg = MQ_DEPTH, .mq_msgsize = (long)opt.size};
        FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
        long max;
        if (f && fscanf(f, "%ld", &max) == 1 && max < attr.mq_maxmsg) attr.mq_maxmsg = max;
        if (f) fclose(f);
        if (!opt.server) ready_text();
        for (int d = 0; d < dirs; d++) {
            char name[NAME_MAX];
            posix_name(name, d ? "s2c" : "c2s");
            if (opt.server) {
                mq_unlink(name);
                ch->mq[d] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
                if (ch->mq[d] == (mqd_t)-1) SYSFAIL("mq_open %s (msgsize %zu)", name, opt.size);
                snprintf(owned.mq_names[owned.nmq++], NAME_MAX, "%s", name);
                add_object("posix-mq", name);
            } else if ((ch->mq[d] = mq_open(name, O_RDWR)) == (mqd_t)-1) {
                SYSFAIL("mq_open %s", name);
            }
        }
        if (opt.server) publish("");
        return;
    }
    ch->msgbuf = malloc(sizeof(long) + opt.size);
    if (opt.server) {
        key_t key;
        ch->msqid = sysv_create(get_msg, 0, &key);
        if (ch->msqid < 0) SYSFAIL("msgget");
        owned.msqid = ch->msqid;
        char text[64], one[32];
        snprintf(one, sizeof one, "0x%08x", key);
        add_object("sysv-msg", one);
        snprintf(text, sizeof text, "msg_key=%d\n", key);
        publish(text);
    } else {
        ch->msqid = msgget((key_t)strtol(ready_value("msg_key"), NULL, 10), 0);
        if (ch->msqid < 0) SYSFAIL("msgget (open)");
    }
}

// ---------------------------------------------------------------- one message each way

static inline void send_msg(struct chan *ch, const unsigned char *buf) {
    int dir = opt.server ? S2C : C2S;
    switch (opt.transport) {
    case T_TCP:
    case T_UDS: write_all(ch->fd, buf, opt.size); break;
    case T_FIFO: write_all(ch->wfd, buf, opt.size); break;
    case T_POSIX_SHM:
    case T_SYSV_SHM:
        sem_down(ch, dir * 2 + FREE);
        memcpy(slot(ch, dir, ch->widx), buf, opt.size);
        ch->widx = (ch->widx + 1) % ch->slots;
        sem_up(ch, dir * 2 + FULL);
        break;
    case T_POSIX_MQ:
        while (mq_send(ch->mq[dir], (const char *)buf, opt.size, 0))
            if (errno != EINTR) SYSFAIL("mq_send");
        break;
    case T_SYSV_MQ:
        *(long *)ch->msgbuf = dir + 1;
        memcpy(ch->msgbuf + sizeof(long), buf, opt.size);
        while (msgsnd(ch->msqid, ch->msgbuf, opt.size, 0))
            if (errno != EINTR) SYSFAIL("msgsnd");
        break;
    }
}

static inline void recv_msg(struct chan *ch, unsigned char *buf) {
    int dir = opt.server ? C2S : S2C;
    ssize_t n;
    switch (opt.transport) {
    case T_TCP:
    case T_UDS: read_all(ch->fd, buf, opt.size); break;
    case T_FIFO: read_all(ch->rfd, buf, opt.size); break;
    case T_POSIX_SHM:
    case T_SYSV_SHM:
        sem_down(ch, dir * 2 + FULL);
        memcpy(buf, slot(ch, dir, ch->ridx), opt.size);
        ch->ridx = (ch->ridx + 1) % ch->slots;
        sem_up(ch, dir * 2 + FREE);
        break;
    case T_POSIX_MQ:
        while ((n = mq_receive(ch->mq[dir], (char *)buf, opt.size, NULL)) < 0)
            if (errno != EINTR) SYSFAIL("mq_receive");
        if ((size_t)n != opt.size) die(EXIT_MISMATCH, NULL, "mq_receive got %zd bytes", n);
        break;
    case T_SYSV_MQ:
        while ((n = msgrcv(ch->msqid, ch->msgbuf, opt.size, dir + 1, 0)) < 0)
            if (errno != EINTR) SYSFAIL("msgrcv");
        if ((size_t)n != opt.size) die(EXIT_MISMATCH, NULL, "msgrcv got %zd bytes", n);
        memcpy(buf, ch->msgbuf + sizeof(long), opt.size);
        break;
    }
}

// ---------------------------------------------------------------- the two measurements

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// Nearest-rank percentile of sorted round trips, as one-way ns.
static double pct(const uint64_t *v, size_t n, double q) {
    size_t rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)v[rank - 1] / 2.0;
}

static void count_sent(struct counters *c, const unsigned char *buf) {
    c->sent++;
    if (opt.verify_full) c->crc_sent = crc32_update(c->crc_sent, buf, opt.size);
}

static void count_recv(struct counters *c, const unsigned char *buf) {
    c->received++;
    if (opt.verify_full) c->crc_recv = crc32_update(c->crc_recv, buf, opt.size);
}

static void print_result(const struct counters *c, const uint64_t *rtt, size_t n) {
    cpu_set_t set;
    head(stdout, 1);
    fprintf(stdout, ",\"cpu\":%d,\"cpus_allowed\":[", opt.cpu);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0, first = 1; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set)) {
                fprintf(stdout, "%s%d", first ? "" : ",", i);
                first = 0;
            }
    fprintf(stdout,
            "],\"cpu_end\":%d,\"verify\":\"%s\",\"sent\":%llu,\"received\":%llu,"
            "\"measured\":%llu,\"errors\":0,",
            sched_getcpu(), opt.verify_full ? "full" : "seq", (unsigned long long)c->sent,
            (unsigned long long)c->received, (unsigned long long)c->measured);
    if (opt.verify_full)
        fprintf(stdout, "\"crc_sent\":\"%08x\",\"crc_recv\":\"%08x\",", c->crc_sent, c->crc_recv);
    else fputs("\"crc_sent\":null,\"crc_recv\":null,", stdout);
    fprintf(stdout, "\"window_s\":%.6f,\"lat_ns\":", c->window_s);
    if (n) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += (double)rtt[i];
        fprintf(stdout,
                "{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"mean\":%.1f,\"min\":%.1f,"
                "\"max\":%.1f,\"samples\":%zu}",
                pct(rtt, n, 0.5), pct(rtt, n, 0.9), pct(rtt, n, 0.99), sum / (double)n / 2.0,
                (double)rtt[0] / 2.0, (double)rtt[n - 1] / 2.0, n);
    } else fputs("null", stdout);
    fputs(",\"thr\":", stdout);
    if (!opt.lat && opt.server && c->measured >= 2 && c->window_s > 0) {
        double rate = (double)(c->measured - 1) / c->window_s;
        fprintf(stdout, "{\"msgs_per_s\":%.1f,\"bytes_per_s\":%.1f}", rate,
                rate * (double)opt.size);
    } else fputs("null", stdout);
    fprintf(stdout, ",\"objects\":[%s],\"elapsed_s\":%.3f}\n", objects_json, elapsed_s());
}

static void run_latency(struct chan *ch, unsigned char *sbuf, unsigned char *rbuf) {
    struct counters c = {0};
    if (opt.server) {
        for (uint64_t seq = 0;; seq++) {
            recv_msg(ch, rbuf);
            if (check(rbuf, seq) & FLAG_STOP) break;
            count_recv(&c, rbuf);
            send_msg(ch, rbuf);
            count_sent(&c, rbuf);
        }
        print_result(&c, NULL, 0);
        return;
    }
    size_t cap = 65536, n = 0;
    uint64_t *rtt = malloc(cap * sizeof *rtt);
    uint64_t start = now_ns();
    uint64_t warm_end = start + (uint64_t)(opt.warmup_s * 1e9);
    uint64_t end = start + (uint64_t)(opt.budget_s * 1e9);
    uint64_t seq = 0, first = 0, last = 0;
    for (;; seq++) {
        stamp(sbuf, seq, 0);
        uint64_t t0 = now_ns();
        if (t0 >= end || (opt.count > 0 && n >= (size_t)opt.count)) break;
        send_msg(ch, sbuf);
        count_sent(&c, sbuf);
        recv_msg(ch, rbuf);
        uint64_t t1 = now_ns();
        check(rbuf, seq);
        count_recv(&c, rbuf);
        if (t0 < warm_end || n >= MAX_SAMPLES) continue;
        if (n == cap) rtt = realloc(rtt, (cap *= 2) * sizeof *rtt);
        if (!rtt) die(EXIT_IPC, "ENOMEM", "no memory for %zu samples", cap);
        if (!n) first = t0;
        last = t1;
        rtt[n++] = t1 - t0;
    }
    // STOP is not echoed: the client's last operation must be a send, so the server can
    // remove its objects as soon as STOP arrives without pulling them from under the client.
    stamp(sbuf, seq, FLAG_STOP);
    send_msg(ch, sbuf);
    c.measured = n;
    c.window_s = n ? (double)(last - first) * 1e-9 : 0.0;
    qsort(rtt, n, sizeof *rtt, cmp_u64);
    print_result(&c, rtt, n);
    free(rtt);
}

static void run_throughput(struct chan *ch, unsigned char *sbuf, unsigned char *rbuf) {
    struct counters c = {0};
    if (opt.server) {
        uint64_t first_arrival = 0, t_first = 0, t_last = 0, warm_ns = (uint64_t)(opt.warmup_s * 1e9);
        for (uint64_t seq = 0;; seq++) {
            recv_msg(ch, rbuf);
            uint64_t t = now_ns();
            if (check(rbuf, seq) & FLAG_STOP) break;
            count_recv(&c, rbuf);
            if (seq == 0) first_arrival = t;
            if (t - first_arrival < warm_ns) continue;
            if (!c.measured) t_first = t;
            t_last = t;
            c.measured++;
        }
        c.window_s = (double)(t_last - t_first) * 1e-9;
        print_result(&c, NULL, 0);
        return;
    }
    uint64_t end = now_ns() + (uint64_t)(opt.budget_s * 1e9), seq = 0;
    for (;; seq++) {
        if ((seq & 15) == 0 && now_ns() >= end) break;
        if (opt.count > 0 && seq >= (uint64_t)opt.count) break;
        stamp(sbuf, seq, 0);
        send_msg(ch, sbuf);
        count_sent(&c, sbuf);
    }
    stamp(sbuf, seq, FLAG_STOP);
    send_msg(ch, sbuf);
    print_result(&c, NULL, 0);
}

// ---------------------------------------------------------------- command line

static void usage(FILE *out) {
    fputs("usage: podshm-ipcbench --transport T --role server|client --mode lat|thr\n"
          "         [--size BYTES] [--budget S] [--warmup S] [--count N] [--cpu N]\n"
          "         [--dir DIR] [--tag TAG] [--timeout S] [--verify seq|full] [--version]\n"
          "transports: tcp uds fifo posix-shm sysv-shm posix-mq sysv-mq\n"
          "One JSON line on stdout; exit 0 ok, 1 IPC failed, 2 usage, 3 timeout, 4 mismatch.\n",
          out);
}

static double parse_seconds(const char *text, const char *flag) {
    char *end;
    double v = strtod(text, &end);
    if (*end || !(v >= 0) || v > 86400) die(EXIT_USAGE, NULL, "%s %s is not seconds", flag, text);
    return v;
}

static void parse_args(int argc, char **argv) {
    static const struct option longs[] = {
        {"transport", 1, 0, 't'}, {"role", 1, 0, 'r'},   {"mode", 1, 0, 'm'},
        {"size", 1, 0, 's'},      {"budget", 1, 0, 'b'}, {"warmup", 1, 0, 'w'},
        {"count", 1, 0, 'n'},     {"cpu", 1, 0, 'c'},    {"dir", 1, 0, 'd'},
        {"tag", 1, 0, 'g'},       {"timeout", 1, 0, 'T'}, {"verify", 1, 0, 'v'},
        {"version", 0, 0, 'V'},   {"help", 0, 0, 'h'},   {0, 0, 0, 0},
    };
    const char *role = NULL, *mode = NULL;
    char *end;
    int c;
    opt.transport = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            for (int i = 0; i < T_COUNT; i++)
                if (!strcmp(optarg, TRANSPORTS[i])) opt.transport = i;
            if (opt.transport < 0) die(EXIT_USAGE, NULL, "unknown --transport %s", optarg);
            break;
        case 'r': role = optarg; break;
        case 'm': mode = optarg; break;
        case 's':
            opt.size = strtoul(optarg, &end, 10);
            if (*end || opt.size < MIN_SIZE || opt.size > MAX_SIZE)
                die(EXIT_USAGE, NULL, "--size %s: want %d..%u bytes", optarg, MIN_SIZE, MAX_SIZE);
            break;
        case 'b': opt.budget_s = parse_seconds(optarg, "--budget"); break;
        case 'w': opt.warmup_s = parse_seconds(optarg, "--warmup"); break;
        case 'T': opt.timeout_s = parse_seconds(optarg, "--timeout"); break;
        case 'n':
            opt.count = strtol(optarg, &end, 10);
            if (*end || opt.count < 0) die(EXIT_USAGE, NULL, "--count %s: want N >= 0", optarg);
            break;
        case 'c':
            opt.cpu = (int)strtol(optarg, &end, 10);
            if (*end || opt.cpu < -1 || opt.cpu >= CPU_SETSIZE)
                die(EXIT_USAGE, NULL, "--cpu %s: want a CPU number (-1: not pinned)", optarg);
            break;
        case 'd': opt.dir = optarg; break;
        case 'g': opt.tag = optarg; break;
        case 'v':
            if (strcmp(optarg, "seq") && strcmp(optarg, "full"))
                die(EXIT_USAGE, NULL, "--verify %s: want seq or full", optarg);
            opt.verify_full = !strcmp(optarg, "full");
            break;
        case 'V':
            printf("{\"command\":\"ipcbench\",\"ok\":true,\"impl\":\"c\",\"version\":\"%s\","
                   "\"protocol\":%d,\"elapsed_s\":0.0}\n", VERSION, PROTOCOL);
            exit(EXIT_OK);
        case 'h': usage(stdout); exit(EXIT_OK);
        default: die(EXIT_USAGE, NULL, "bad option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) die(EXIT_USAGE, NULL, "unexpected argument %s", argv[optind]);
    if (opt.transport < 0) die(EXIT_USAGE, NULL, "--transport is required");
    if (!role || (strcmp(role, "server") && strcmp(role, "client")))
        die(EXIT_USAGE, NULL, "--role server or --role client is required");
    if (!mode || (strcmp(mode, "lat") && strcmp(mode, "thr")))
        die(EXIT_USAGE, NULL, "--mode lat or --mode thr is required");
    opt.server = !strcmp(role, "server");
    opt.lat = !strcmp(mode, "lat");
    if (!opt.dir || !opt.tag) die(EXIT_USAGE, NULL, "--dir and --tag are required");
    if (!*opt.tag || strlen(opt.tag) > 64 || strpbrk(opt.tag, "/ \t\n"))
        die(EXIT_USAGE, NULL, "--tag must be 1-64 characters without '/' or blanks");
    if ((opt.transport == T_POSIX_MQ || opt.transport == T_SYSV_MQ) && opt.size > MQ_MAX_SIZE)
        die(EXIT_USAGE, NULL, "%s messages are at most %d bytes (msgsize_max/msgmax)",
            TRANSPORTS[opt.transport], MQ_MAX_SIZE);
}

int main(int argc, char **argv) {
    clock_gettime(CLOCK_MONOTONIC, &started);
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    crc_init();
    arm_timeout();
    if (opt.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(opt.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set))
            die(EXIT_IPC, errno_name(errno), "sched_setaffinity to CPU %d: %s (not in this "
                "container's cpuset?)", opt.cpu, strerror(errno));
    }
    unsigned char *sbuf = aligned_alloc(64, (opt.size + 63) / 64 * 64);
    unsigned char *rbuf = aligned_alloc(64, (opt.size + 63) / 64 * 64);
    if (!sbuf || !rbuf) die(EXIT_IPC, "ENOMEM", "no memory for two %zu-byte buffers", opt.size);
    memset(sbuf, 0, opt.size);
    memset(rbuf, 0, opt.size);
    struct chan ch = {.fd = -1, .rfd = -1, .wfd = -1, .shmid = -1, .msqid = -1};
    switch (opt.transport) {
    case T_TCP:
    case T_UDS: sock_setup(&ch); break;
    case T_FIFO: fifo_setup(&ch); break;
    case T_POSIX_SHM:
    case T_SYSV_SHM: shm_setup(&ch); break;
    default: mq_setup(&ch); break;
    }
    if (opt.lat) run_latency(&ch, sbuf, rbuf);
    else run_throughput(&ch, sbuf, rbuf);
    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
    remove_owned();
    fflush(stdout);
    return EXIT_OK;
}
