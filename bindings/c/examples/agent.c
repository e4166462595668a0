/*
 * agent.c: a small backup agent on libcloudbackup.
 *
 * It backs a directory up into a local vault directory laid out as every
 * host lays a vault out (config, then <dir>/<id> objects: bundles, index
 * deltas, snapshots, locks), verifies the vault, restores the newest
 * snapshot into another directory, and compares two trees byte for byte:
 *
 *   agent init    VAULT            create a vault in VAULT
 *   agent backup  [--force] SOURCE VAULT
 *                                  back SOURCE up into the vault: files
 *                                  unchanged since the parent snapshot (the
 *                                  latest of this host and SOURCE) are not
 *                                  read again unless --force; paths that
 *                                  cannot be read are listed in the snapshot
 *                                  and make the exit status 3
 *   agent verify  VAULT            check the whole vault
 *   agent restore VAULT TARGET     restore the newest snapshot into TARGET;
 *                                  files that cannot be restored fail alone,
 *                                  named in its report, and make the exit
 *                                  status 3
 *   agent snapshots VAULT          one JSON line per snapshot: {"id", "snapshot"}
 *   agent compare A B              files, directories, symlinks, FIFOs and
 *                                  devices, modes, nanosecond mtimes, owners
 *                                  and link counts equal?
 *   agent run --api URL --username U --api-key K --vault VAULT
 *             [--state-dir DIR] [--poll-ms N]
 *                                  the service loop (libcurl): registers (as
 *                                  the user), then calls with a token of its
 *                                  own; polls its events, runs the backups and
 *                                  restores they ask for, each in a process of
 *                                  its own (an error ends that job `failed`,
 *                                  not the agent), reports them as the
 *                                  library's job reporter says, posts
 *                                  heartbeats, and a `shutdown` event when
 *                                  SIGTERM or SIGINT stops it
 *
 * The password comes from $CLOUDBACKUP_PASSWORD. Optional, for tests:
 * $CLOUDBACKUP_KDF and $CLOUDBACKUP_SETTINGS (JSON, see cb_vault_create).
 * $CLOUDBACKUP_RETRY_LOCK: how many seconds to wait for a busy vault's lock
 * (default 60; 0 tries once).
 *
 * The library does no I/O and the agent keeps no rules of its own: it walks
 * the tree relative to open directories (fdopendir/readdir, fstatat,
 * readlinkat, flistxattr: names are bytes, paths of any length), gives the
 * library each path's metadata (cb_file_meta), asks it whether a file is
 * unchanged since the parent snapshot (cb_backup_session_reuse), pushes
 * the bytes of the others into a backup
 * session and stores what comes out under the names the library gives;
 * it hands its listing of the vault to a cb_vault_state, which says what
 * to read, which snapshot is the newest and what the index is; it locks
 * the vault as the library decides (cb_lock, cb_lock_table); to restore it
 * fetches the byte ranges the session plans, writes the verified data the
 * session hands back under temporary names, and renames and dates files
 * as the session lists them. Snapshot paths are joined to the target only
 * through cb_snapshot_path_relative.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <curl/curl.h>

#include "cloudbackup.h"

#define READ_SIZE (256 * 1024)

/* How long apart the agent tries to lock a busy vault (for
 * $CLOUDBACKUP_RETRY_LOCK seconds). */
#define LOCK_PAUSE_NS 500000000L

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* The lock this process holds (VAULT/locks/<id>), removed on any exit. */
static char *held_lock_path = NULL;

/* The bundles the running backup has stored that no index names yet:
 * die() deletes them, so a failed backup (a full disk) gives their room
 * back at once; a killed one's are left to gc. */
static char **uncommitted = NULL;
static size_t uncommitted_len = 0, uncommitted_cap = 0;

/* In the process of a service job (`agent run`): where die() also writes
 * its message, which the agent reports as the job's failure. -1 elsewhere. */
static int job_diagnostic_fd = -1;

static void die(const char *fmt, ...) {
    /* Whole, however long: a path far below the target can be longer than
     * any fixed buffer, and the reason comes after it. */
    char fallback[2048], *message = fallback;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int len = vsnprintf(fallback, sizeof fallback, fmt, ap);
    va_end(ap);
    if (len >= (int)sizeof fallback) {
        char *whole = malloc((size_t)len + 1);
        if (whole != NULL) {
            vsnprintf(whole, (size_t)len + 1, fmt, again);
            message = whole;
        }
    }
    va_end(again);
    fprintf(stderr, "agent: %s\n", message);
    if (job_diagnostic_fd >= 0) {
        /* Best effort: the agent reports a job that failed without one too. */
        ssize_t put = write(job_diagnostic_fd, message, strlen(message));
        (void)put;
    }
    for (size_t i = 0; i < uncommitted_len; i++) unlink(uncommitted[i]);
    if (held_lock_path != NULL) unlink(held_lock_path);
    exit(1);
}

/* The library's message for the last call that failed. */
static const char *last_message(void) {
    static char message[2048];
    cb_last_error_message(message, sizeof message, NULL);
    return message;
}

/* Exits with the library's message when a call fails. */
static void check(cb_status st, const char *what) {
    if (st == CB_OK) return;
    die("%s: %s: %s", what, cb_status_name(st), last_message());
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) die("out of memory");
    return p;
}

static char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (p == NULL) die("out of memory");
    return p;
}

static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = xmalloc(la + lb + 2);
    memcpy(s, a, la);
    size_t at = la;
    if (at == 0 || s[at - 1] != '/') s[at++] = '/';
    while (*b == '/') b++, lb--;
    memcpy(s + at, b, lb + 1);
    return s;
}

/* printf into a new string. */
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

/* Now, nanoseconds since the Unix epoch. */
static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void pause_ns(long ns) {
    struct timespec t = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
    nanosleep(&t, NULL);
}

/* The strings of a JSON array of strings, or (with `key`) the string
 * values of every `"key":"..."` member, as the library writes them: the
 * names and ids it returns hold no escapes. */
static char **json_strings(const char *json, const char *key, size_t *count) {
    size_t n = 0, cap = 16;
    char **out = xmalloc(cap * sizeof *out);
    char pattern[64] = "\"";
    if (key != NULL) snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    for (const char *p = json; (p = strstr(p, pattern)) != NULL;) {
        p += strlen(pattern);
        const char *end = strchr(p, '"');
        if (end == NULL) die("unexpected JSON from the library: %s", json);
        if (memchr(p, '\\', (size_t)(end - p)) != NULL) die("unexpected escape in %s", json);
        if (n == cap) {
            cap *= 2;
            out = realloc(out, cap * sizeof *out);
            if (out == NULL) die("out of memory");
        }
        out[n++] = strndup(p, (size_t)(end - p));
        p = end + 1;
    }
    *count = n;
    return out;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

/* Reads a whole file; NULL (errno set) when it cannot be opened. */
static uint8_t *read_maybe(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) die("%s: %s", path, strerror(errno));
    uint8_t *data = xmalloc((size_t)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n <= 0) die("%s: short read", path);
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return data;
}

static uint8_t *read_all(const char *path, size_t *len) {
    uint8_t *data = read_maybe(path, len);
    if (data == NULL) die("%s: %s", path, strerror(errno));
    return data;
}

/* Writes a file whole, through a temporary name of its own
 * (<path>.<pid>.tmp, which the library counts as a temporary object), so
 * that no reader ever sees a partial object under its final name. */
static void write_all(const char *path, const uint8_t *data, size_t len) {
    char *tmp = xmalloc(strlen(path) + 32);
    sprintf(tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("%s: %s", tmp, strerror(errno));
    size_t put = 0;
    int failed = 0;
    while (put < len && !failed) {
        ssize_t n = write(fd, data + put, len - put);
        if (n < 0) failed = errno;
        else put += (size_t)n;
    }
    if (!failed && fsync(fd) != 0) failed = errno;
    if (close(fd) != 0 && !failed) failed = errno;
    if (failed) {
        /* A full disk or an I/O error: the partial temporary goes too, so
         * that nothing of this write is left behind. */
        unlink(tmp);
        die("%s: %s", path, strerror(failed));
    }
    if (rename(tmp, path) != 0) die("%s: %s", path, strerror(errno));
    free(tmp);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0700) != 0 && errno != EEXIST) die("%s: %s", path, strerror(errno));
}

/* Reads up to `len` bytes at `offset` of a file into a new buffer; `*got`
 * is how many there were (fewer for a truncated file). NULL when the file
 * cannot be opened. */
static uint8_t *read_range(const char *path, uint64_t offset, size_t len, size_t *got) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    uint8_t *data = xmalloc(len);
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(fd, data + *got, len - *got, (off_t)(offset + *got));
        if (n <= 0) break;
        *got += (size_t)n;
    }
    close(fd);
    return data;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted, "." and ".." left out; with
 * `missing_ok`, none for a directory that does not exist. */
static char **list_dir_maybe(const char *path, size_t *count, int missing_ok) {
    size_t n = 0, cap = 16;
    char **names = xmalloc(cap * sizeof *names);
    *count = 0;
    DIR *d = opendir(path);
    if (d == NULL) {
        if (missing_ok && errno == ENOENT) return names;
        die("%s: %s", path, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL) die("out of memory");
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    *count = n;
    return names;
}

static char **list_dir(const char *path, size_t *count) { return list_dir_maybe(path, count, 0); }

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ------------------------------------------------------------------ */
/* The vault directory                                                 */
/* ------------------------------------------------------------------ */

static const char *password(size_t *len) {
    const char *p = getenv("CLOUDBACKUP_PASSWORD");
    if (p == NULL || *p == 0) die("set CLOUDBACKUP_PASSWORD");
    *len = strlen(p);
    return p;
}

/* VAULT/<the name the library gives object `id` of `kind`>. */
static char *object_path(const char *vault_dir, cb_object_kind kind, const char *id) {
    char *name;
    check(cb_object_name((int)kind, id, &name), "object name");
    char *path = join(vault_dir, name);
    cb_string_free(name);
    return path;
}

/* VAULT/<the directory of `kind`>. */
static char *object_dir(const char *vault_dir, cb_object_kind kind) {
    return join(vault_dir, cb_object_dir((int)kind));
}

/* Creates the vault: VAULT/config and a directory per kind of object. */
static int cmd_init(const char *dir) {
    size_t pw_len;
    const char *pw = password(&pw_len);
    char *config_path = join(dir, "config");
    if (access(config_path, F_OK) == 0) die("%s: there is a vault here already", dir);
    make_dir(dir);
    const char *sub;
    for (int kind = 0; (sub = cb_object_dir(kind)) != NULL; kind++) {
        char *p = join(dir, sub);
        make_dir(p);
        free(p);
    }
    cb_vault *vault;
    check(cb_vault_create((const uint8_t *)pw, pw_len, getenv("CLOUDBACKUP_SETTINGS"),
                          getenv("CLOUDBACKUP_KDF"), &vault),
          "create vault");
    uint8_t *config;
    size_t len;
    check(cb_vault_config(vault, &config, &len), "vault config");
    write_all(config_path, config, len);
    cb_bytes_free(config, len);
    printf("created vault %s\n", dir);
    cb_vault_free(vault);
    free(config_path);
    return 0;
}

/* Opens VAULT/config (a command line tool never creates a vault by
 * itself: `init` does). */
static cb_vault *open_vault(const char *dir) {
    size_t pw_len;
    const char *pw = password(&pw_len);
    char *config_path = join(dir, "config");
    if (access(config_path, F_OK) != 0)
        die("%s: no vault here (create one with `agent init %s`)", dir, dir);
    cb_vault *vault = NULL;
    size_t len;
    uint8_t *config = read_all(config_path, &len);
    check(cb_vault_open(config, len, (const uint8_t *)pw, pw_len, &vault), "open vault");
    free(config);
    free(config_path);
    return vault;
}

/* What the agent read of a vault. */
typedef struct {
    cb_vault_state *state;
    char **wanted; /* the index deltas' and snapshots' names */
    size_t n_wanted;
    size_t deltas; /* index deltas listed */
} vault_read;

/* Lists the vault's objects into a new cb_vault_state, then reads every
 * object it wants. What cannot be read is recorded (the state then skips
 * it or refuses to act on a guess) and reported on stderr. */
static void read_vault(const char *vault_dir, cb_vault *vault, vault_read *r) {
    check(cb_vault_state_new(vault, &r->state), "vault state");
    const cb_object_kind kinds[] = {CB_OBJECT_BUNDLE, CB_OBJECT_INDEX, CB_OBJECT_SNAPSHOT};
    for (size_t k = 0; k < 3; k++) {
        const char *sub = cb_object_dir((int)kinds[k]);
        char *dir = join(vault_dir, sub);
        size_t n;
        char **names = list_dir_maybe(dir, &n, 1);
        for (size_t i = 0; i < n; i++) {
            char *path = join(dir, names[i]);
            char *name = join(sub, names[i]);
            struct stat st;
            if (lstat(path, &st) == 0) {
                int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
                check(cb_vault_state_add_listed(r->state, name, (uint64_t)st.st_size, mtime), name);
            } /* else: gone since it was listed (a temporary renamed) */
            free(name);
            free(path);
        }
        free_names(names, n);
        free(dir);
    }
    char *json;
    check(cb_vault_state_wanted(r->state, &json), "wanted");
    r->wanted = json_strings(json, NULL, &r->n_wanted);
    cb_string_free(json);
    const char *index_dir = cb_object_dir(CB_OBJECT_INDEX);
    r->deltas = 0;
    for (size_t i = 0; i < r->n_wanted; i++) {
        const char *name = r->wanted[i];
        if (strncmp(name, index_dir, strlen(index_dir)) == 0 && name[strlen(index_dir)] == '/')
            r->deltas++;
        char *path = join(vault_dir, name);
        size_t len;
        uint8_t *data = read_maybe(path, &len);
        if (data == NULL) {
            check(cb_vault_state_add_unreadable(r->state, name, strerror(errno)), name);
            fprintf(stderr, "agent: warning: %s: %s\n", name, strerror(errno));
        } else {
            cb_status st = cb_vault_state_add_object(r->state, name, data, len);
            if (st != CB_OK)
                fprintf(stderr, "agent: warning: %s: %s: %s (skipped)\n", name, cb_status_name(st),
                        last_message());
            free(data);
        }
        free(path);
    }
}

static void vault_read_free(vault_read *r) {
    free_names(r->wanted, r->n_wanted);
    cb_vault_state_free(r->state);
}

/* ------------------------------------------------------------------ */
/* Locks                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *vault_dir;
    cb_vault *vault;
    char host[256];
    cb_lock *lock;
    char *id;   /* what the lock is stored as */
    char *path; /* VAULT/locks/<id> */
} vault_lock;

/* Seals and stores `lock` as its own object; returns its id and path. */
static void store_lock(vault_lock *l, cb_lock *lock, char **id, char **path) {
    uint8_t *data;
    size_t len;
    check(cb_lock_seal(lock, l->vault, id, &data, &len), "seal lock");
    *path = object_path(l->vault_dir, CB_OBJECT_LOCK, *id);
    write_all(*path, data, len);
    cb_bytes_free(data, len);
}

/* Deletes the stored lock and forgets it. */
static void drop_lock(vault_lock *l) {
    if (l->path != NULL && unlink(l->path) != 0 && errno != ENOENT)
        die("%s: %s", l->path, strerror(errno));
    held_lock_path = NULL;
    free(l->path);
    cb_string_free(l->id);
    cb_lock_free(l->lock);
    l->path = NULL;
    l->id = NULL;
    l->lock = NULL;
}

/* Whether process `pid` (a lock's or a restore temporary's) is running here. */
static bool process_alive(uint32_t pid) {
    /* 0 and values past pid_t's range name no process (kill() would read
     * them as process groups). */
    if (pid == 0 || pid > (uint32_t)INT_MAX) return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* What the library decides about our lock given everyone else's (the
 * message of a refusal is the library's last error). */
static cb_lock_decision decide(vault_lock *l) {
    cb_lock_table *table;
    check(cb_lock_table_new(now_ns(), l->host, &table), "lock table");
    char *dir = object_dir(l->vault_dir, CB_OBJECT_LOCK);
    size_t n;
    char **names = list_dir_maybe(dir, &n, 1);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], l->id) == 0) continue;
        char *path = join(dir, names[i]);
        size_t len;
        uint8_t *data = read_maybe(path, &len);
        free(path);
        if (data == NULL) continue; /* released meanwhile */
        /* Fails for a name that is no lock id (another client's temporary
         * object: not a lock) and for an unreadable lock, which the table
         * keeps: it blocks, and the decision's message names it. */
        (void)cb_lock_table_add(table, l->vault, names[i], data, len);
        free(data);
    }
    free_names(names, n);
    free(dir);
    size_t pids;
    check(cb_lock_table_local_pid_count(table, &pids), "lock pids");
    for (size_t i = 0; i < pids; i++) {
        uint32_t pid;
        check(cb_lock_table_local_pid_at(table, i, &pid), "lock pid");
        check(cb_lock_table_set_pid_alive(table, pid, process_alive(pid)), "lock pid");
    }
    cb_lock_decision d;
    cb_status st = cb_lock_table_decide(table, l->id, l->lock, &d);
    if (st != CB_OK && st != CB_LOCKED) check(st, "lock decision");
    cb_lock_table_free(table);
    return d;
}

/* Rewrites the lock when the library says it is time: the new one is
 * stored before the old one goes, so the vault never looks unlocked. */
static void refresh_lock(vault_lock *l) {
    bool needs;
    int64_t now = now_ns();
    check(cb_lock_needs_refresh(l->lock, now, &needs), "lock refresh");
    if (!needs) return;
    cb_lock *fresh;
    check(cb_lock_refreshed(l->lock, now, &fresh), "lock refresh");
    char *id, *path;
    store_lock(l, fresh, &id, &path);
    held_lock_path = path;
    if (unlink(l->path) != 0 && errno != ENOENT) die("%s: %s", l->path, strerror(errno));
    free(l->path);
    cb_string_free(l->id);
    cb_lock_free(l->lock);
    l->lock = fresh;
    l->id = id;
    l->path = path;
}

/* How many times to try for a lock: one, then one per pause within
 * $CLOUDBACKUP_RETRY_LOCK seconds, read by the library's rule (the CLI's
 * and the npm package's too; unset: its default, 60). */
static long lock_attempts(void) {
    double seconds;
    check(cb_retry_lock_seconds("CLOUDBACKUP_RETRY_LOCK", getenv("CLOUDBACKUP_RETRY_LOCK"), &seconds),
          "lock wait");
    double attempts = 1 + seconds * 1e9 / (double)LOCK_PAUSE_NS;
    return attempts < (double)LONG_MAX ? (long)attempts : LONG_MAX;
}

/* Locks the vault for `operation` (shared or exclusive), waiting or
 * retrying a while as the library decides; fails with its message. */
static void acquire_lock(vault_lock *l, const char *vault_dir, cb_vault *vault,
                         const char *operation, bool exclusive) {
    memset(l, 0, sizeof *l);
    l->vault_dir = vault_dir;
    l->vault = vault;
    gethostname(l->host, sizeof l->host - 1);
    char *dir = object_dir(vault_dir, CB_OBJECT_LOCK);
    make_dir(dir); /* vaults made before locks existed lack it */
    free(dir);
    long attempts = lock_attempts();
    bool confirmed = false; /* a give-up seen twice in a row */
    for (long attempt = 1;; attempt++) {
        if (l->lock == NULL) {
            check(cb_lock_new(operation, exclusive, l->host, (uint32_t)getpid(), now_ns(), &l->lock),
                  "lock");
            store_lock(l, l->lock, &l->id, &l->path);
            held_lock_path = l->path;
        }
        cb_lock_decision d = decide(l);
        if (d == CB_LOCK_GRANTED) return;
        /* A holder that released and exited between the listing and the
         * pid check looks gone: decide once more, on a new listing. */
        if (d == CB_LOCK_GIVE_UP && !confirmed) {
            confirmed = true;
            attempt--;
            continue;
        }
        confirmed = false;
        char message[2048];
        snprintf(message, sizeof message, "%s", last_message());
        if (d == CB_LOCK_BACK_OFF || d == CB_LOCK_GIVE_UP) drop_lock(l);
        /* Give up: a dead process of this host holds the lock in the way;
         * no wait makes it go, only `unlock`. */
        if (d == CB_LOCK_GIVE_UP || attempt >= attempts) die("%s", message);
        pause_ns(LOCK_PAUSE_NS);
        if (l->lock != NULL) refresh_lock(l); /* waiting: keep it fresh */
    }
}

/* ------------------------------------------------------------------ */
/* backup                                                              */
/* ------------------------------------------------------------------ */

/* What a backup run by the service loop (`agent run`) is told between
 * files, and what it hands back. NULL for `agent backup`. */
typedef struct backup_hooks {
    /* Gets the session (for its counters); returns true once the backup
     * is to stop (a user's stop request): nothing is committed then. */
    bool (*tick)(struct backup_hooks *h, const cb_backup_session *session);
    cb_backup_filter *filter;     /* the configuration's exclusions; NULL: all */
    const char *configuration_id; /* recorded in the snapshot */
    char *snapshot_id;            /* out: the stored snapshot's id */
    char *counters;               /* out: the session's counters (JSON) */
    char *errors;                 /* out: the /errors report of unreadable paths (JSON), or NULL */
    char *failure;                /* out: why the backup could not run at all */
    bool stopped;                 /* out: it ended early on a stop request */
} backup_hooks;

typedef struct {
    const char *vault_dir;
    cb_backup_session *session;
    vault_lock *lock;
    bool force; /* read every file, even unchanged ones */
    size_t files, unchanged, dirs, symlinks, others, skipped, excluded, bundles, errors;
    size_t changed; /* files that changed while they were read (warned, kept as read) */
    uint8_t *buf;
    backup_hooks *hooks; /* NULL for `agent backup` */
    uint64_t root_dev;   /* the source root's device, for the filter */
} backup_run;

/* Counts `path` (taken) among the uncommitted bundles. */
static void add_uncommitted(char *path) {
    if (uncommitted_len == uncommitted_cap) {
        uncommitted_cap = uncommitted_cap ? 2 * uncommitted_cap : 16;
        char **grown = realloc(uncommitted, uncommitted_cap * sizeof *uncommitted);
        if (grown == NULL) die("out of memory");
        uncommitted = grown;
    }
    uncommitted[uncommitted_len++] = path;
}

/* Forgets the uncommitted bundles: deleted (`give_back`: a backup that
 * stopped) or kept (the index delta that names them is being stored). */
static void end_uncommitted(bool give_back) {
    for (size_t i = 0; i < uncommitted_len; i++) {
        if (give_back) unlink(uncommitted[i]);
        free(uncommitted[i]);
    }
    free(uncommitted);
    uncommitted = NULL;
    uncommitted_len = uncommitted_cap = 0;
}

/* Stores every bundle the session has finished. Each is borrowed (no copy):
 * valid until the next cb_backup_session_next_bundle, which hands its buffer
 * back for a later bundle, so it is written out before that call. */
static void store_bundles(backup_run *run) {
    for (;;) {
        const char *id;
        cb_bytes_view bundle;
        check(cb_backup_session_next_bundle(run->session, &id, &bundle), "next bundle");
        if (id == NULL) return;
        char *path = object_path(run->vault_dir, CB_OBJECT_BUNDLE, id);
        write_all(path, bundle.data, bundle.len);
        run->bundles++;
        add_uncommitted(path);
    }
}

/* Stores a finished object (index delta or snapshot) under its name;
 * returns its id. */
static char *store_object(const char *vault_dir, cb_object_kind kind, char *id, uint8_t *data,
                          size_t len) {
    if (id == NULL) die("no %s to store", cb_object_dir((int)kind));
    char *path = object_path(vault_dir, kind, id);
    write_all(path, data, len);
    free(path);
    char *kept = xstrdup(id);
    cb_string_free(id);
    cb_bytes_free(data, len);
    return kept;
}

/* Records that `entry` could not be read (`what` failed with `err`): the
 * snapshot lists it, the backup goes on, and the agent exits with status 3
 * (as restic does) once the snapshot is stored. */
static void file_error(backup_run *run, const char *entry, const char *what, int err) {
    char reason[512];
    snprintf(reason, sizeof reason, "%s: %s", what, strerror(err));
    fprintf(stderr, "agent: warning: %s: %s\n", entry, reason);
    check(cb_backup_session_file_error(run->session, (const uint8_t *)entry, strlen(entry), reason),
          entry);
    run->errors++;
}

/* A path's metadata as the library takes it (the path's bytes, any but
 * NUL, UTF-8 or not). */
static cb_file_meta meta_of(const char *entry, const struct stat *st, cb_entry_kind kind) {
    cb_file_meta m;
    memset(&m, 0, sizeof m);
    m.path = (const uint8_t *)entry;
    m.path_len = strlen(entry);
    m.kind = (int)kind;
    m.mode = (uint32_t)(st->st_mode & 07777);
    m.mtime = (int64_t)st->st_mtim.tv_sec;
    m.mtime_nanos = (uint32_t)st->st_mtim.tv_nsec;
    m.ctime = (int64_t)st->st_ctim.tv_sec;
    m.ctime_nanos = (uint32_t)st->st_ctim.tv_nsec;
    m.size = (uint64_t)st->st_size;
    m.uid = (int64_t)st->st_uid;
    m.gid = (int64_t)st->st_gid;
    m.inode = (uint64_t)st->st_ino;
    m.device = (uint64_t)st->st_dev;
    m.links = (uint64_t)st->st_nlink;
    m.rdev = (uint64_t)st->st_rdev;
    return m;
}

/* The extended attributes of an open file or directory. */
typedef struct {
    char *names; /* flistxattr's NUL-separated list */
    cb_xattr *list;
    size_t n;
} xattrs;

/* Reads `fd`'s extended attributes into `m` (none where the filesystem
 * has none; an attribute that changes meanwhile is left out). */
static void read_xattrs(int fd, xattrs *x, cb_file_meta *m) {
    memset(x, 0, sizeof *x);
    ssize_t size = flistxattr(fd, NULL, 0);
    if (size <= 0) return;
    x->names = xmalloc((size_t)size);
    size = flistxattr(fd, x->names, (size_t)size);
    if (size <= 0) return;
    size_t count = 0;
    for (ssize_t i = 0; i < size; i++) count += x->names[i] == 0;
    x->list = xmalloc(count * sizeof *x->list);
    for (char *name = x->names; name < x->names + size; name += strlen(name) + 1) {
        ssize_t len = fgetxattr(fd, name, NULL, 0);
        if (len < 0) continue;
        uint8_t *value = xmalloc((size_t)len);
        len = fgetxattr(fd, name, value, (size_t)len);
        if (len < 0) {
            free(value);
            continue;
        }
        x->list[x->n++] = (cb_xattr){(const uint8_t *)name, strlen(name), value, (size_t)len};
    }
    m->xattrs = x->list;
    m->xattrs_len = x->n;
}

static void xattrs_free(xattrs *x) {
    for (size_t i = 0; i < x->n; i++) free((void *)x->list[i].value);
    free(x->list);
    free(x->names);
}

/* The names in the open directory `fd` (closed here), sorted; NULL when
 * it cannot be read (errno says why). */
static char **list_dirfd(int fd, size_t *count) {
    *count = 0;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    size_t n = 0, cap = 16;
    char **names = xmalloc(cap * sizeof *names);
    struct dirent *e;
    for (;;) {
        errno = 0;
        e = readdir(d);
        if (e == NULL) break;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL) die("out of memory");
        }
        names[n++] = xstrdup(e->d_name);
    }
    int err = errno;
    closedir(d);
    if (err != 0) {
        free_names(names, n);
        errno = err;
        return NULL;
    }
    qsort(names, n, sizeof *names, by_name);
    *count = n;
    return names;
}

/* A symlink's target (NUL-terminated; may hold any byte but NUL), or NULL
 * with errno. */
static char *read_link(int dirfd, const char *name, size_t hint) {
    size_t cap = hint + 1 > 256 ? hint + 1 : 256;
    for (;;) {
        char *target = xmalloc(cap);
        ssize_t len = readlinkat(dirfd, name, target, cap);
        if (len < 0) {
            int err = errno;
            free(target);
            errno = err;
            return NULL;
        }
        if ((size_t)len < cap) {
            target[len] = 0;
            return target;
        }
        free(target);
        cap *= 2;
    }
}

/* Pushes the content of the open regular file `fd` (fstat gave `st`)
 * into the session, read at explicit offsets. A file with fewer blocks
 * than bytes is walked by extents (SEEK_DATA/SEEK_HOLE): its holes go in
 * as cb_backup_session_write_zeros and are never read (a filesystem that
 * keeps no holes reports all of it as data). A file that changes meanwhile
 * is read up to where its end is met. Returns 0, or -1 with errno set. */
static int write_content(backup_run *run, int fd, const struct stat *st, const char *entry) {
    off_t pos = 0;
#if defined(SEEK_DATA) && defined(SEEK_HOLE)
    int sparse = (off_t)st->st_blocks * 512 < st->st_size;
#else
    int sparse = 0;
    (void)st;
#endif
    for (;;) {
        off_t end = -1; /* -1: up to the end of the file */
#if defined(SEEK_DATA) && defined(SEEK_HOLE)
        if (sparse) {
            off_t data = lseek(fd, pos, SEEK_DATA);
            if (data < 0 && errno == ENXIO) { /* a hole up to the end, or nothing */
                struct stat now;
                if (fstat(fd, &now) != 0) return -1;
                if (now.st_size > pos)
                    check(cb_backup_session_write_zeros(run->session, (uint64_t)(now.st_size - pos)),
                          entry);
                return 0;
            }
            if (data < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
                sparse = 0; /* no hole support after all: read it all */
                continue;
            }
            if (data < 0) return -1;
            end = lseek(fd, data, SEEK_HOLE);
            if (end < 0) return -1;
            if (data > pos)
                check(cb_backup_session_write_zeros(run->session, (uint64_t)(data - pos)), entry);
            pos = data;
        }
#endif
        while (end < 0 || pos < end) {
            size_t want = READ_SIZE;
            if (end >= 0 && end - pos < (off_t)want) want = (size_t)(end - pos);
            ssize_t got = pread(fd, run->buf, want, pos);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return -1;
            if (got == 0) return 0;
            check(cb_backup_session_write(run->session, run->buf, (size_t)got), entry);
            store_bundles(run); /* memory stays bounded */
            pos += got;
        }
        if (!sparse) return 0;
    }
}

/* Backs up regular file `name` of directory `dirfd` (lstat gave `st`),
 * named `entry` in the snapshot: taken over from the parent snapshot when
 * unchanged, else read. Errors are the file's, not the backup's. */
static void backup_file(backup_run *run, int dirfd, const char *name, const char *entry,
                        const struct stat *st) {
    cb_file_meta m = meta_of(entry, st, CB_ENTRY_FILE);
    if (!run->force) {
        bool reused = false;
        check(cb_backup_session_reuse(run->session, &m, &reused), entry);
        if (reused) {
            run->files++;
            run->unchanged++;
            return;
        }
    }
    /* O_NONBLOCK: if a FIFO took the file's place since lstat, open does
     * not hang (and fstat tells). */
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        file_error(run, entry, "open", errno);
        return;
    }
    struct stat now;
    if (fstat(fd, &now) != 0) {
        file_error(run, entry, "fstat", errno);
        close(fd);
        return;
    }
    if (!S_ISREG(now.st_mode)) { /* replaced since lstat */
        file_error(run, entry, "open", ESTALE);
        close(fd);
        return;
    }
    m = meta_of(entry, &now, CB_ENTRY_FILE);
    xattrs x;
    read_xattrs(fd, &x, &m);
    check(cb_backup_session_start(run->session, &m), entry);
    xattrs_free(&x);
    if (write_content(run, fd, &now, entry) < 0) {
        char reason[512];
        snprintf(reason, sizeof reason, "read: %s", strerror(errno));
        fprintf(stderr, "agent: warning: %s: %s\n", entry, reason);
        check(cb_backup_session_abandon_file(run->session, reason), entry);
        run->errors++;
    } else if (fstat(fd, &now) != 0) {
        char reason[512];
        snprintf(reason, sizeof reason, "fstat: %s", strerror(errno));
        fprintf(stderr, "agent: warning: %s: %s\n", entry, reason);
        check(cb_backup_session_abandon_file(run->session, reason), entry);
        run->errors++;
    } else {
        /* The core tells whether it changed while it was read (a log being
         * written): the snapshot has what was read; warn, as restic does. */
        char *warning = NULL;
        check(cb_backup_session_finish_file_checked(run->session, (uint64_t)now.st_size,
                                                    (int64_t)now.st_mtim.tv_sec,
                                                    (uint32_t)now.st_mtim.tv_nsec, &warning),
              entry);
        if (warning != NULL) {
            fprintf(stderr, "agent: warning: %s: %s\n", entry, warning);
            cb_string_free(warning);
            run->changed++;
        }
        run->files++;
    }
    close(fd);
}

static void backup_children(backup_run *run, int fd, const char *name, char **names, size_t n);

/* Backs up the open directory `fd` (closed here), named `name` ("/a/b")
 * in the snapshot. Paths are relative to open directories, so no length
 * limit applies but the filesystem's own. */
static void backup_tree(backup_run *run, int fd, const char *name) {
    size_t n = 0;
    /* A duplicate to list (closedir closes it); `fd` stays for openat. */
    int listfd = dup(fd);
    char **names = listfd < 0 ? NULL : list_dirfd(listfd, &n);
    if (names == NULL) {
        file_error(run, name, "read directory", errno);
        close(fd);
        return;
    }
    backup_children(run, fd, name, names, n);
}

/* Backs up `names` (freed here) of the open directory `fd` (closed here),
 * named `name` in the snapshot: all of a folder's, or the one a root that
 * is no directory names. */
static void backup_children(backup_run *run, int fd, const char *name, char **names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        refresh_lock(run->lock); /* between files */
        backup_hooks *h = run->hooks;
        if (h != NULL && !h->stopped && h->tick(h, run->session)) h->stopped = true;
        if (h != NULL && h->stopped) break; /* unwinds every level: nothing is committed */
        const char *child = names[i];
        char *entry = join(name, child);
        struct stat st;
        bool found = fstatat(fd, child, &st, AT_SYMLINK_NOFOLLOW) == 0;
        int lerr = errno;
        cb_visit visit = CB_VISIT_KEEP;
        if (found && h != NULL && h->filter != NULL)
            check(cb_backup_filter_visit(h->filter, entry, S_ISDIR(st.st_mode), (uint64_t)st.st_dev,
                                         run->root_dev, &visit),
                  entry);
        if (!found) {
            file_error(run, entry, "lstat", lerr); /* vanished, say */
        } else if (visit == CB_VISIT_SKIP) {
            run->excluded++; /* the configuration's exclusions */
        } else if (S_ISREG(st.st_mode)) {
            backup_file(run, fd, child, entry, &st);
        } else if (S_ISDIR(st.st_mode)) {
            cb_file_meta m = meta_of(entry, &st, CB_ENTRY_DIR);
            int sub = openat(fd, child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int err = errno;
            xattrs x = {0};
            if (sub >= 0) read_xattrs(sub, &x, &m);
            /* Recorded even when it cannot be opened: it restores empty. */
            check(cb_backup_session_add(run->session, &m), entry);
            xattrs_free(&x);
            run->dirs++;
            if (sub < 0)
                file_error(run, entry, "open directory", err);
            else if (visit == CB_VISIT_KEEP_EMPTY)
                close(sub);
            else
                backup_tree(run, sub, entry);
        } else if (S_ISLNK(st.st_mode)) {
            char *target = read_link(fd, child, (size_t)st.st_size);
            if (target == NULL) {
                file_error(run, entry, "readlink", errno);
            } else {
                cb_file_meta m = meta_of(entry, &st, CB_ENTRY_SYMLINK);
                m.target = (const uint8_t *)target;
                m.target_len = strlen(target);
                check(cb_backup_session_add(run->session, &m), entry);
                run->symlinks++;
                free(target);
            }
        } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            cb_entry_kind kind = S_ISFIFO(st.st_mode)  ? CB_ENTRY_FIFO
                                 : S_ISCHR(st.st_mode) ? CB_ENTRY_CHARDEV
                                                       : CB_ENTRY_BLOCKDEV;
            cb_file_meta m = meta_of(entry, &st, kind);
            check(cb_backup_session_add(run->session, &m), entry);
            run->others++;
        } else {
            run->skipped++; /* sockets: nothing a restore could make */
        }
        free(entry);
    }
    free_names(names, n);
    close(fd);
}

/* The backup's /errors value for the paths the snapshot could not read
 * (cb_snapshot_error_report), or NULL when every path was read. */
static char *snapshot_errors(cb_vault *vault, const char *id, const uint8_t *data, size_t len);

/* Backs SOURCE up into the vault; `hooks` may be NULL. Returns 0, 3 when
 * some paths could not be read (restic's convention: the snapshot is
 * stored, but incomplete), 4 when a stop request ended it (nothing
 * committed), or -1 when the source cannot be opened (`hooks->failure`
 * says why; without hooks the agent exits). */
static int backup_source(const char *source, const char *vault_dir, bool force,
                         backup_hooks *hooks) {
    char *root = realpath(source, NULL);
    int root_fd = root == NULL ? -1 : open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* A root that is no directory (a file, say) is the one entry /<name>
     * of its directory (the core's rule: cb_split_file_root). */
    char *file_root = NULL;
    if (root_fd < 0 && root != NULL && errno == ENOTDIR) {
        char *dir = NULL;
        if (cb_split_file_root(root, &dir, &file_root) != CB_OK) {
            errno = EINVAL;
        } else {
            root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            cb_string_free(dir);
        }
    }
    struct stat root_st;
    /* A file root's own device is the root device (the core's rule): a
     * one-file-system filter never leaves the named file out. */
    if (root_fd < 0 || (file_root == NULL ? fstat(root_fd, &root_st)
                                          : fstatat(root_fd, file_root, &root_st,
                                                    AT_SYMLINK_NOFOLLOW)) != 0) {
        if (hooks == NULL) die("%s: %s", source, strerror(errno));
        hooks->failure = fmt("%s: %s", source, strerror(errno));
        if (root_fd >= 0) close(root_fd);
        cb_string_free(file_root);
        free(root);
        return -1;
    }
    cb_vault *vault = open_vault(vault_dir);
    struct timespec started;
    clock_gettime(CLOCK_REALTIME, &started);
    vault_lock lock;
    acquire_lock(&lock, vault_dir, vault, "backup", false);
    vault_read r;
    read_vault(vault_dir, vault, &r);
    cb_index *index;
    check(cb_vault_state_index(r.state, &index), "index");
    backup_run run = {.vault_dir = vault_dir, .lock = &lock, .force = force, .buf = xmalloc(READ_SIZE),
                      .hooks = hooks, .root_dev = (uint64_t)root_st.st_dev};
    check(cb_backup_session_new(vault, index, 2, &run.session), "start backup");
    /* The root, absolute: with the host name it finds the next backup's
     * parent (the core's rule), whose unchanged files are not read. */
    cb_path roots[1] = {{(const uint8_t *)root, strlen(root)}};
    check(cb_backup_session_set_paths(run.session, roots, 1), "paths");
    char *parent_id = NULL;
    if (!force) check(cb_vault_state_parent_for(r.state, lock.host, roots, 1, &parent_id), "parent");
    if (parent_id != NULL) {
        cb_snapshot *parent;
        check(cb_vault_state_snapshot(r.state, parent_id, &parent), "parent");
        check(cb_backup_session_set_parent(run.session, parent), "parent");
        cb_snapshot_free(parent);
        printf("backup: parent snapshot %.16s...\n", parent_id);
        cb_string_free(parent_id);
    }
    if (file_root != NULL) {
        char **names = xmalloc(sizeof *names);
        names[0] = xstrdup(file_root);
        cb_string_free(file_root);
        backup_children(&run, root_fd, "/", names, 1);
    } else {
        backup_tree(&run, root_fd, "/");
    }
    char *snapshot = NULL;
    if (hooks != NULL && hooks->stopped) {
        /* Stopped between files: no index delta, no snapshot, and the
         * bundles already stored, which nothing references, deleted. */
        end_uncommitted(true);
        check(cb_backup_session_counters(run.session, &hooks->counters), "counters");
        drop_lock(&lock);
        printf("backup: stopped after %zu files; nothing committed\n", run.files);
    } else {
        check(cb_backup_session_finish(run.session, (int64_t)started.tv_sec,
                                       (uint32_t)started.tv_nsec, lock.host,
                                       hooks != NULL ? hooks->configuration_id : NULL),
              "finish backup");
        store_bundles(&run);
        /* Bundles first, then the index delta, then the snapshot: a snapshot
         * never names data that is not stored yet. And only while the lock is
         * fresh: a lock others could call stale commits nothing. */
        refresh_lock(&lock);
        check(cb_lock_check_fresh(lock.lock, lock.id, now_ns()), "lock");
        char *id;
        uint8_t *data;
        size_t len;
        check(cb_backup_session_take_index(run.session, &id, &data, &len), "take index");
        /* From here the bundles stay: a failed write of the index may
         * still have left it in place, naming them. */
        end_uncommitted(false);
        free(store_object(vault_dir, CB_OBJECT_INDEX, id, data, len));
        check(cb_backup_session_take_snapshot(run.session, &id, &data, &len), "take snapshot");
        if (hooks != NULL && id != NULL) hooks->errors = snapshot_errors(vault, id, data, len);
        snapshot = store_object(vault_dir, CB_OBJECT_SNAPSHOT, id, data, len);
        drop_lock(&lock);
        char *counters;
        check(cb_backup_session_counters(run.session, &counters), "counters");
        printf("backup: %zu files (%zu unchanged, not read), %zu dirs, %zu symlinks, %zu fifos and "
               "devices (%zu skipped, %zu excluded); %zu new bundles; deduplicated against %zu "
               "index deltas\n",
               run.files, run.unchanged, run.dirs, run.symlinks, run.others, run.skipped,
               run.excluded, run.bundles, r.deltas);
        printf("backup: snapshot %.16s..., counters %s\n", snapshot, counters);
        if (run.errors > 0)
            fprintf(stderr, "agent: %zu paths could not be read (listed in the snapshot's errors)\n",
                    run.errors);
        if (run.changed > 0)
            fprintf(stderr,
                    "agent: %zu files changed while read (warned above): the snapshot has what "
                    "was read\n",
                    run.changed);
        if (hooks != NULL) {
            hooks->counters = counters;
            hooks->snapshot_id = snapshot;
            snapshot = NULL;
        } else {
            cb_string_free(counters);
        }
    }
    fflush(stdout);
    free(snapshot);
    free(run.buf);
    free(root);
    cb_backup_session_free(run.session);
    cb_index_free(index);
    vault_read_free(&r);
    cb_vault_free(vault);
    if (hooks != NULL && hooks->stopped) return 4;
    return run.errors > 0 ? 3 : 0;
}

static int cmd_backup(const char *source, const char *vault_dir, bool force) {
    return backup_source(source, vault_dir, force, NULL);
}

/* ------------------------------------------------------------------ */
/* verify                                                              */
/* ------------------------------------------------------------------ */

static int cmd_verify(const char *vault_dir) {
    cb_vault *vault = open_vault(vault_dir);
    vault_lock lock;
    acquire_lock(&lock, vault_dir, vault, "verify", false);
    vault_read r;
    read_vault(vault_dir, vault, &r);
    cb_index *index;
    check(cb_vault_state_index(r.state, &index), "index");
    /* The whole vault: snapshots, index deltas, the listing, then every
     * bundle the plan names, fetched whole. */
    cb_verifier *verifier;
    check(cb_verifier_new_for_state(r.state, &verifier), "start verify");
    char *plan;
    check(cb_verifier_plan(verifier, index, 1.0, 0, &plan), "verify plan");
    size_t n;
    char **bundles = json_strings(plan, "bundle", &n);
    cb_string_free(plan);
    for (size_t i = 0; i < n; i++) {
        refresh_lock(&lock);
        char *path = object_path(vault_dir, CB_OBJECT_BUNDLE, bundles[i]);
        size_t len;
        uint8_t *data = read_maybe(path, &len);
        if (data == NULL) {
            check(cb_verifier_missing(verifier, bundles[i]), "missing bundle");
        } else {
            cb_status st = cb_verifier_feed(verifier, bundles[i], data, len);
            if (st != CB_OK) printf("verify: %s: %s\n", cb_status_name(st), last_message());
            free(data);
        }
        free(path);
    }
    drop_lock(&lock);
    char *report;
    check(cb_verifier_report(verifier, &report), "verify report");
    printf("verify: %s\n", report);
    int ok = strstr(report, "\"ok\":true") != NULL;
    cb_string_free(report);
    free_names(bundles, n);
    cb_verifier_free(verifier);
    cb_index_free(index);
    vault_read_free(&r);
    cb_vault_free(vault);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* restore                                                             */
/* ------------------------------------------------------------------ */

/* TARGET/<snapshot path>, joined only through the library's check (the
 * session never hands out a path that fails it: failing here is a bug). */
static char *target_path(const char *target, const char *path) {
    const char *relative;
    check(cb_snapshot_path_relative(path, &relative), "snapshot path");
    return join(target, relative);
}

/* Makes the folders above snapshot path `path` in `target` that are not
 * there: a snapshot may leave a folder out (the format allows it), and its
 * files still go below it. Mode 0777 less the umask, as mkdir -p; errors
 * are left to the create that follows. Entries come folder by folder, so
 * the last parent made is remembered (one mkdir per folder, not per file);
 * make_parents(NULL, NULL) forgets it, as each restore starts. */
static void make_parents(const char *target, const char *path) {
    static char *last = NULL;
    if (target == NULL) {
        free(last);
        last = NULL;
        return;
    }
    char *full = target_path(target, path);
    char *end = strrchr(full, '/');
    size_t parent_len = end != NULL ? (size_t)(end - full) : 0;
    if (last != NULL && strlen(last) == parent_len && memcmp(last, full, parent_len) == 0) {
        free(full);
        return;
    }
    for (char *slash = full + strlen(target) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
        *slash = 0;
        (void)mkdir(full, 0777);
        *slash = '/';
    }
    free(last);
    last = full;
    last[parent_len] = 0;
}

/* Folder `rel` (relative, "" for the target itself) of `target`, reached
 * component by component without following a symlink where a folder goes;
 * -1 when it is not there (or not a folder). */
static int open_below(const char *target, const char *rel) {
    int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *copy = strdup(rel);
    if (copy == NULL) die("out of memory");
    char *rest = copy;
    while (fd >= 0 && *rest) {
        char *slash = strchr(rest, '/');
        if (slash) *slash = 0;
        int next = openat(fd, rest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
        rest = slash ? slash + 1 : rest + strlen(rest);
    }
    free(copy);
    return fd;
}

/* Removes the temporaries a killed restore left where this one writes:
 * in each folder the library lists (cb_restore_session_leftover_dir_at),
 * every name cb_partial_owner gives no running owner. Done before this
 * restore creates anything, so none of them is its own. */
static void remove_leftovers(const char *target, const cb_restore_session *s) {
    size_t n;
    check(cb_restore_session_leftover_dir_count(s, &n), "leftover folders");
    for (size_t i = 0; i < n; i++) {
        const char *rel;
        check(cb_restore_session_leftover_dir_at(s, i, &rel), "leftover folder");
        int fd = open_below(target, rel);
        if (fd < 0) continue; /* not made yet: nothing was left there */
        DIR *d = fdopendir(fd);
        if (d == NULL) {
            close(fd);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            bool is_partial;
            uint32_t owner;
            check(cb_partial_owner(e->d_name, (uint32_t)getpid(), &is_partial, &owner),
                  "partial owner");
            if (!is_partial || (owner != 0 && process_alive(owner))) continue;
            if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
                fprintf(stderr, "agent: %s/%s%s%s: %s (left by a killed restore)\n", target, rel,
                        *rel ? "/" : "", e->d_name, strerror(errno));
        }
        closedir(d);
    }
}

/* The temporary name file `path` of the snapshot is written under, in
 * its own directory, until it is complete. */
static char *partial_path(const char *target, const char *path) {
    char *full = target_path(target, path);
    char *slash = strrchr(full, '/'); /* target_path always joins with '/' */
    char *name;
    check(cb_partial_name(slash + 1, (uint32_t)getpid(), &name), "partial name");
    slash[1] = 0;
    char *partial = join(full, name);
    cb_string_free(name);
    free(full);
    return partial;
}

/* A restore's failure with one path: reported, counted, and the restore
 * goes on (the exit status is 1 at the end). */
static void restore_failed(size_t *failures, const char *path, const char *what) {
    fprintf(stderr, "agent: %s: %s: %s\n", path, what, strerror(errno));
    (*failures)++;
}

/* Entry `snapshot_path` could not be made (`what` failed, errno says why):
 * it fails alone, in the session's report, and the restore goes on (a
 * path too long for this system, a name the filesystem refuses). What the
 * session would write into it then finds no temporary and fails too. */
static void create_failed(cb_restore_session *s, const char *snapshot_path, const char *what) {
    char reason[256];
    snprintf(reason, sizeof reason, "%s: %s", what, strerror(errno));
    check(cb_restore_session_fail_path(s, snapshot_path, reason), "fail path");
}

/* Whether a non-root process may set attribute `name` (of `len` bytes):
 * its own `user.*` ones and POSIX ACLs; `trusted.*` and `security.*`
 * need privileges, so they are skipped as restic and tar skip them. */
static bool unprivileged_xattr(const uint8_t *name, size_t len) {
    static const char *const allowed[] = {"user.", "system.posix_acl_access",
                                          "system.posix_acl_default"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        size_t n = strlen(allowed[i]);
        if (len >= n && memcmp(name, allowed[i], n) == 0) return true;
    }
    return false;
}

/* The extended attributes (and so ACLs) the snapshot recorded for `path`. */
static void apply_xattrs(const char *path, const cb_create *c, size_t *failures) {
    bool root = geteuid() == 0;
    for (size_t i = 0; i < c->xattrs_len; i++) {
        const cb_xattr *x = &c->xattrs[i];
        if (!root && !unprivileged_xattr(x->name, x->name_len)) continue;
        /* The name comes as bytes with a length; the call wants a C string. */
        char *name = malloc(x->name_len + 1);
        if (!name) die("out of memory");
        memcpy(name, x->name, x->name_len);
        name[x->name_len] = 0;
        if (lsetxattr(path, name, x->value, x->value_len, 0) != 0)
            restore_failed(failures, path, "setxattr");
        free(name);
    }
}

/* Owner (when root), extended attributes, mode and time (to the
 * nanosecond) of `path`, as the snapshot recorded them; symlinks get
 * their owner, attributes and time only. */
static void apply_metadata(const char *path, const cb_create *c, size_t *failures) {
    bool link = c->kind == CB_ENTRY_SYMLINK;
    /* Owners only as root (others cannot give files away); before chmod,
     * which chown would clear setuid and setgid bits after. */
    if (c->has_owner && geteuid() == 0 && lchown(path, (uid_t)c->uid, (gid_t)c->gid) != 0)
        restore_failed(failures, path, "chown");
    apply_xattrs(path, c, failures);
    if (!link && chmod(path, (mode_t)c->mode) != 0) restore_failed(failures, path, "chmod");
    struct timespec times[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT},
                                {.tv_sec = (time_t)c->mtime, .tv_nsec = (long)c->mtime_nanos}};
    if (utimensat(AT_FDCWD, path, times, link ? AT_SYMLINK_NOFOLLOW : 0) != 0)
        restore_failed(failures, path, "utimensat");
}

/* What a restore run by the service loop (`agent run`) is told between
 * ranges: `tick` gets the bytes written so far and returns true once the
 * restore is to stop (a user's stop request). NULL for `agent restore`. */
typedef struct restore_hooks {
    bool (*tick)(struct restore_hooks *h, uint64_t written);
    char *report; /* the session's report (JSON), kept for the loop */
    bool stopped; /* the restore ended early on a stop request */
} restore_hooks;

/* Restores snapshot `ref` ("latest", or an id prefix) of the vault into
 * TARGET; `hooks` may be NULL. Returns 0 when everything was restored. */
static int restore_snapshot(const char *vault_dir, const char *target, const char *ref,
                            restore_hooks *hooks);

static int cmd_restore(const char *vault_dir, const char *target) {
    return restore_snapshot(vault_dir, target, "latest", NULL);
}

static int restore_snapshot(const char *vault_dir, const char *target, const char *ref,
                            restore_hooks *hooks) {
    cb_vault *vault = open_vault(vault_dir);
    vault_lock lock;
    acquire_lock(&lock, vault_dir, vault, "restore", false);
    vault_read r;
    read_vault(vault_dir, vault, &r);
    cb_index *index;
    check(cb_vault_state_index(r.state, &index), "index");
    char *snapshot_id;
    check(cb_vault_state_resolve(r.state, ref, &snapshot_id), vault_dir);
    cb_snapshot *snapshot;
    check(cb_vault_state_snapshot(r.state, snapshot_id, &snapshot), "snapshot");
    cb_restore_session *s;
    check(cb_restore_session_new(vault, snapshot, index, NULL, &s), "start restore");
    /* The target must be a folder: a file there (or on its way there) is
     * refused by name before anything is written. */
    struct stat target_st;
    if (mkdir(target, 0700) != 0 && errno != EEXIST && errno != ENOTDIR)
        die("%s: %s", target, strerror(errno));
    if (stat(target, &target_st) != 0 || !S_ISDIR(target_st.st_mode))
        die("%s: not a folder (something else is there, or on the way to it): nothing restored",
            target);
    remove_leftovers(target, s);
    make_parents(NULL, NULL);
    size_t failures = 0;

    /* 1. Create directories, symlinks, FIFOs and devices, and each file at its final size
     *    under its temporary name. */
    size_t creates;
    check(cb_restore_session_create_count(s, &creates), "creates");
    for (size_t i = 0; i < creates; i++) {
        cb_create c;
        check(cb_restore_session_create_at(s, i, &c), "create");
        make_parents(target, c.path);
        if (c.kind == CB_ENTRY_DIR) {
            char *path = target_path(target, c.path);
            if (mkdir(path, 0700) != 0 && errno != EEXIST) create_failed(s, c.path, "mkdir");
            free(path);
        } else if (c.kind == CB_ENTRY_SYMLINK) {
            char *path = target_path(target, c.path);
            unlink(path);
            if (symlink(c.target, path) != 0) create_failed(s, c.path, "symlink");
            free(path);
        } else if (c.kind == CB_ENTRY_FIFO || c.kind == CB_ENTRY_CHARDEV ||
                   c.kind == CB_ENTRY_BLOCKDEV) {
            char *path = target_path(target, c.path);
            unlink(path);
            mode_t type = c.kind == CB_ENTRY_FIFO      ? S_IFIFO
                          : c.kind == CB_ENTRY_CHARDEV ? S_IFCHR
                                                       : S_IFBLK;
            /* Devices need root (CAP_MKNOD): otherwise a per-path failure. */
            if (mknod(path, type | 0600, (dev_t)c.rdev) != 0) create_failed(s, c.path, "mknod");
            free(path);
        } else if (c.kind == CB_ENTRY_HARDLINK) {
            /* Linked to its first name once that file is complete (step 3). */
        } else {
            char *path = partial_path(target, c.path);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || ftruncate(fd, (off_t)c.size) != 0) {
                create_failed(s, c.path, fd < 0 ? "create" : "truncate");
                unlink(path);
            }
            if (fd >= 0) close(fd);
            free(path);
        }
    }

    /* 2. Fetch each planned range, feed it, write what verifies. */
    size_t ranges, written = 0;
    check(cb_restore_session_range_count(s, &ranges), "ranges");
    for (size_t i = 0; i < ranges; i++) {
        /* A stop request ends the restore between ranges: no file is
         * renamed into place; the temporaries go below. */
        if (hooks != NULL && hooks->tick(hooks, written)) {
            hooks->stopped = true;
            break;
        }
        refresh_lock(&lock);
        cb_range rg;
        check(cb_restore_session_range_at(s, i, &rg), "range");
        char *bundle = object_path(vault_dir, CB_OBJECT_BUNDLE, rg.bundle_id);
        size_t got;
        uint8_t *data = read_range(bundle, rg.offset, (size_t)rg.length, &got);
        if (data == NULL) {
            /* The bundle cannot be fetched: its files fail, the rest goes on. */
            check(cb_restore_session_missing(s, rg.bundle_id), "missing bundle");
        } else {
            /* A short read feeds fewer bytes: the session fails those files. */
            check(cb_restore_session_feed(s, rg.bundle_id, rg.offset, data, got), "feed");
            free(data);
        }
        free(bundle);
        /* One blob's bytes, lent by the session, go to each of its places
         * in turn (decrypted once); blobs of zeros never come: the files
         * were created at their size, so those runs stay holes. */
        for (;;) {
            const char *path;
            uint64_t offset;
            const uint8_t *bytes;
            size_t len;
            check(cb_restore_session_next_write(s, &path, &offset, &bytes, &len), "next write");
            if (path == NULL) break;
            char *partial = partial_path(target, path);
            int fd = open(partial, O_WRONLY | O_CLOEXEC);
            size_t put = 0;
            while (fd >= 0 && put < len) {
                ssize_t n = pwrite(fd, bytes + put, len - put, (off_t)(offset + put));
                if (n < 0) break;
                put += (size_t)n;
            }
            if (fd < 0 || put < len) {
                /* A full disk or an I/O error fails this file alone: the
                 * session reports it and sends it nothing more; the
                 * temporary goes (later places of the same blob find it
                 * gone and fail the same file again, which is harmless). */
                check(cb_restore_session_fail_path(s, path, strerror(errno)), "fail path");
                unlink(partial);
            }
            if (fd >= 0) close(fd);
            written += put;
            free(partial);
        }
    }
    drop_lock(&lock);

    char *report;
    if (hooks != NULL && hooks->stopped) {
        size_t n;
        check(cb_restore_session_create_count(s, &n), "creates");
        for (size_t i = 0; i < n; i++) {
            cb_create c;
            check(cb_restore_session_create_at(s, i, &c), "create");
            if (c.kind != CB_ENTRY_FILE) continue;
            char *partial = partial_path(target, c.path);
            unlink(partial);
            free(partial);
        }
        cb_string_free(snapshot_id);
        cb_restore_session_free(s);
        cb_snapshot_free(snapshot);
        cb_index_free(index);
        vault_read_free(&r);
        cb_vault_free(vault);
        return 4;
    }
    check(cb_restore_session_finish(s, &report), "finish restore");

    /* 3. What the session lists as restored: complete files take their
     *    final names; what failed leaves no temporary behind; then modes
     *    and times, in the session's order (deepest first, so nothing
     *    written into a directory changes its time afterwards). */
    size_t applies;
    check(cb_restore_session_apply_count(s, &applies), "applies");
    for (size_t k = 0; k < applies; k++) {
        cb_create c;
        check(cb_restore_session_apply_at(s, k, &c), "apply");
        if (c.kind != CB_ENTRY_FILE) continue;
        char *partial = partial_path(target, c.path), *path = target_path(target, c.path);
        if (rename(partial, path) != 0) {
            restore_failed(&failures, path, "rename into place");
            unlink(partial);
        }
        free(partial);
        free(path);
    }
    for (size_t i = 0; i < creates; i++) {
        cb_create c;
        check(cb_restore_session_create_at(s, i, &c), "create");
        if (c.kind != CB_ENTRY_FILE) continue;
        char *partial = partial_path(target, c.path);
        /* Never made (ENOENT; ENAMETOOLONG, ENOTDIR: its folder could not
         * be) is fine; one left behind is a failure, not the end. */
        if (unlink(partial) != 0 && errno != ENOENT && errno != ENAMETOOLONG && errno != ENOTDIR)
            restore_failed(&failures, partial, "remove temporary");
        free(partial);
    }
    /* Further names of restored files: hard links to their first name. */
    for (size_t k = 0; k < applies; k++) {
        cb_create c;
        check(cb_restore_session_apply_at(s, k, &c), "apply");
        if (c.kind != CB_ENTRY_HARDLINK) continue;
        char *path = target_path(target, c.path), *first = target_path(target, c.target);
        unlink(path);
        if (link(first, path) != 0) restore_failed(&failures, path, "link");
        free(first);
        free(path);
    }
    for (size_t k = 0; k < applies; k++) {
        cb_create c;
        check(cb_restore_session_apply_at(s, k, &c), "apply");
        char *path = target_path(target, c.path);
        apply_metadata(path, &c, &failures);
        free(path);
    }

    printf("restore: snapshot %.16s..., %zu things created, %zu ranges fetched, %zu bytes written\n",
           snapshot_id, creates, ranges, written);
    printf("restore: %s\n", report);
    int ok = strstr(report, "\"errors\":null") != NULL && failures == 0;
    if (hooks != NULL)
        hooks->report = xstrdup(report);
    cb_string_free(report);
    cb_string_free(snapshot_id);
    cb_restore_session_free(s);
    cb_snapshot_free(snapshot);
    cb_index_free(index);
    vault_read_free(&r);
    cb_vault_free(vault);
    /* Finished, with files that failed alone (each in the report): 3, as
     * the Python tool's exit status for a partial restore. */
    return ok ? 0 : 3;
}

/* ------------------------------------------------------------------ */
/* snapshots                                                           */
/* ------------------------------------------------------------------ */

/* Prints every readable snapshot as the core decodes it, for scripts (the
 * interop tests compare these listings across bindings); unreadable ones
 * are skipped with a warning on stderr. */
static int cmd_snapshots(const char *vault_dir) {
    cb_vault *vault = open_vault(vault_dir);
    vault_read r;
    read_vault(vault_dir, vault, &r);
    const char *dir = cb_object_dir(CB_OBJECT_SNAPSHOT);
    for (size_t i = 0; i < r.n_wanted; i++) {
        const char *name = r.wanted[i];
        if (strncmp(name, dir, strlen(dir)) != 0 || name[strlen(dir)] != '/') continue;
        const char *id = name + strlen(dir) + 1;
        cb_snapshot *snap;
        if (cb_vault_state_snapshot(r.state, id, &snap) != CB_OK) continue; /* warned already */
        char *json;
        check(cb_snapshot_json(snap, &json), "snapshot json");
        printf("{\"id\":\"%s\",\"snapshot\":%s}\n", id, json);
        cb_string_free(json);
        cb_snapshot_free(snap);
    }
    vault_read_free(&r);
    cb_vault_free(vault);
    return 0;
}

/* ------------------------------------------------------------------ */
/* compare                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t files, dirs, symlinks, others, bytes;
    int differences;
} comparison;

static void differ(comparison *c, const char *what, const char *path) {
    printf("compare: %s differs: %s\n", path, what);
    c->differences++;
}

static void compare_tree(comparison *c, const char *a, const char *b) {
    size_t na, nb;
    char **la = list_dir(a, &na), **lb = list_dir(b, &nb);
    if (na != nb) differ(c, "entry count", a);
    for (size_t i = 0; i < na && i < nb; i++) {
        if (strcmp(la[i], lb[i]) != 0) {
            differ(c, "names", a);
            break;
        }
        char *pa = join(a, la[i]), *pb = join(b, lb[i]);
        struct stat sa, sb;
        if (lstat(pa, &sa) != 0 || lstat(pb, &sb) != 0) die("%s: %s", pa, strerror(errno));
        if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
            differ(c, "type", pa);
        } else if (S_ISLNK(sa.st_mode)) {
            char ta[PATH_MAX + 1], tb[PATH_MAX + 1];
            ssize_t x = readlink(pa, ta, PATH_MAX), y = readlink(pb, tb, PATH_MAX);
            if (x < 0 || y < 0 || x != y || memcmp(ta, tb, (size_t)x) != 0) differ(c, "target", pa);
            c->symlinks++;
        } else {
            if ((sa.st_mode & 07777) != (sb.st_mode & 07777)) differ(c, "mode", pa);
            if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
                differ(c, "mtime", pa);
            if (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid) differ(c, "owner", pa);
            if (!S_ISDIR(sa.st_mode) && sa.st_nlink != sb.st_nlink) differ(c, "hard links", pa);
            if ((S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) && sa.st_rdev != sb.st_rdev)
                differ(c, "device number", pa);
            if (S_ISDIR(sa.st_mode)) {
                c->dirs++;
                compare_tree(c, pa, pb);
            } else if (S_ISREG(sa.st_mode)) {
                size_t x, y;
                uint8_t *da = read_all(pa, &x), *db = read_all(pb, &y);
                if (x != y || memcmp(da, db, x) != 0) differ(c, "content", pa);
                c->files++;
                c->bytes += x;
                free(da);
                free(db);
            } else {
                c->others++;
            }
        }
        free(pa);
        free(pb);
    }
    free_names(la, na);
    free_names(lb, nb);
}

static int cmd_compare(const char *a, const char *b) {
    comparison c = {0};
    compare_tree(&c, a, b);
    if (c.differences) {
        printf("compare: %d differences\n", c.differences);
        return 1;
    }
    printf("compare: identical: %zu files (%zu bytes), %zu dirs, %zu symlinks, %zu fifos and "
           "devices; modes, nanosecond times, owners, link counts\n",
           c.files, c.bytes, c.dirs, c.symlinks, c.others);
    return 0;
}

/* ------------------------------------------------------------------ */
/* agent run: the service loop over libcurl                            */
/* ------------------------------------------------------------------ */

/* The library builds every request and parses every answer
 * (cb_build_request_as_agent, cb_parse_response) and makes every patch
 * (cb_job_reporter); this part only moves bytes over HTTP and picks
 * members out of the JSON the library returns. */

/* -- Reading JSON (the library's answers) -- */

static const char *json_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* The end of the JSON value at `p` (strings, numbers, literals, nesting). */
static const char *json_skip(const char *p) {
    p = json_ws(p);
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1]) p++;
        return *p ? p + 1 : p;
    }
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                p = json_skip(p) - 1;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if ((*p == '}' || *p == ']') && --depth == 0) {
                return p + 1;
            }
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']') p++;
    return p;
}

/* The string at `p` decoded (escapes, \u included), or NULL when the value
 * is not a string. */
static char *json_str(const char *p) {
    if (p == NULL || *(p = json_ws(p)) != '"') return NULL;
    char *out = xmalloc(strlen(p)), *o = out;
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        p++;
        const char *map = "b\bf\fn\nr\rt\t";
        const char *m = strchr(map, *p);
        if (*p == 'u') {
            unsigned cp = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6), *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12), *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18), *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F)), *o++ = (char)(0x80 | (cp & 0x3F));
            }
        } else if (m != NULL && (m - map) % 2 == 0) {
            *o++ = m[1];
        } else {
            *o++ = *p; /* \" \\ \/ */
        }
    }
    *o = 0;
    return out;
}

/* The value of member `key` of the object at `p` (NULL: none, or not an
 * object). Keys are compared undecoded: the names looked up hold no escape. */
static const char *json_get(const char *p, const char *key) {
    if (p == NULL || *(p = json_ws(p)) != '{') return NULL;
    size_t klen = strlen(key);
    for (p = json_ws(p + 1); *p == '"';) {
        const char *name = p + 1, *end = json_skip(p);
        const char *value = json_ws(json_ws(end) + 1); /* past the ':' */
        if ((size_t)(end - name - 1) == klen && strncmp(name, key, klen) == 0) return value;
        p = json_ws(json_skip(value));
        if (*p == ',') p = json_ws(p + 1);
    }
    return NULL;
}

/* A member path ("a.b.c") of nested objects. */
static const char *json_at(const char *p, const char *path) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && p; k = strtok_r(NULL, ".", &save))
        p = json_get(p, k);
    return p;
}

static char *json_str_at(const char *p, const char *path) { return json_str(json_at(p, path)); }

/* The first element of the array at `p`, or the one after element `at`
 * (NULL: no more). */
static const char *json_next(const char *p, const char *at) {
    if (at == NULL) {
        if (p == NULL || *(p = json_ws(p)) != '[') return NULL;
        p = json_ws(p + 1);
    } else {
        p = json_ws(json_skip(at));
        if (*p != ',') return NULL;
        p = json_ws(p + 1);
    }
    return *p == ']' || *p == 0 ? NULL : p;
}

/* A copy of the JSON value at `p`, as text. */
static char *json_dup(const char *p) {
    p = json_ws(p);
    size_t n = (size_t)(json_skip(p) - p);
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Writes `s` as a JSON string (quoted, escaped) into a new buffer. */
static char *json_quote(const char *s) {
    char *out = xmalloc(strlen(s) * 6 + 3), *o = out;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') *o++ = '\\', *o++ = (char)c;
        else if (c < 0x20) o += sprintf(o, "\\u%04x", c);
        else *o++ = (char)c;
    }
    *o++ = '"';
    *o = 0;
    return out;
}

/* -- HTTP -- */

/* A growing buffer for a response body. */
typedef struct {
    char *data;
    size_t len;
} body_buf;

static size_t body_write(char *ptr, size_t size, size_t n, void *user) {
    body_buf *b = user;
    size_t add = size * n;
    char *grown = realloc(b->data, b->len + add + 1);
    if (grown == NULL) return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, add);
    b->len += add;
    b->data[b->len] = 0;
    return add;
}

/* Why the last request got no answer (curl's words), for the caller's
 * message: the poll loop says it once per outage, not once per poll. */
static const char *no_answer = "";

/* Sends one request; returns the HTTP status (0: no answer, why in
 * `no_answer`) and the body in `*out` (NUL-terminated; free it). `headers`
 * are "Name: value". */
static long http(const char *method, const char *url, struct curl_slist *headers, const char *body,
                 body_buf *out) {
    CURL *c = curl_easy_init();
    if (c == NULL) die("curl_easy_init failed");
    out->data = NULL;
    out->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body != NULL) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else no_answer = curl_easy_strerror(rc);
    curl_easy_cleanup(c);
    if (out->data == NULL) out->data = xstrdup("");
    return status;
}

/* -- The service -- */

typedef struct {
    const char *api;       /* the service's base URL */
    const char *username;
    const char *api_key;
    const char *vault_dir;
    char *state_dir;
    char *user_token;      /* the user's, from the identity endpoint */
    char *tenant;          /* from the identity endpoint */
    char *token;           /* what the agent's calls carry: its own (see connect_agent) */
    char *agent_id;        /* once registered */
    char *password;        /* the agent's, from its registration: for its tokens */
    char *fingerprint;     /* the host fingerprint it registered with */
    char *marker;          /* the last event handled */
    cb_agent_key *key;     /* decrypts the vault password of a request */
    char *heartbeat_url;   /* the agent's event channel (its settings); NULL: none */
    bool away;             /* the service stopped answering the polls (said once) */
    int64_t heartbeat_every_ns, next_heartbeat_ns;
} service;

/* Authenticates the user at {api}/identity/v2.0/tokens with the API key.
 * The user's token is for registering; the agent's calls carry it only
 * where the service issues the agent no token of its own. */
static void authenticate(service *sv) {
    char *user = json_quote(sv->username), *key = json_quote(sv->api_key);
    char *body = fmt("{\"auth\": {\"RAX-KSKEY:apiKeyCredentials\": {\"username\": %s, \"apiKey\": %s}}}",
                     user, key);
    char *url = fmt("%s/identity/v2.0/tokens", sv->api);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    body_buf answer;
    long status = http("POST", url, h, body, &answer);
    if (status == 0) die("identity: no answer from %s: %s", url, no_answer);
    if (status != 200) die("identity: HTTP %ld: %s", status, answer.data);
    free(sv->user_token);
    free(sv->tenant);
    sv->user_token = json_str_at(answer.data, "access.token.id");
    sv->tenant = json_str_at(answer.data, "access.token.tenant.id");
    if (sv->user_token == NULL || sv->tenant == NULL) die("identity: no token in %s", answer.data);
    curl_slist_free_all(h);
    free(answer.data);
    free(url);
    free(body);
    free(user);
    free(key);
}

static void connect_agent(service *sv);

/* A token refused (401): the user's again, then the agent's own (unless
 * the refused call was the user's). */
static void renew_tokens(service *sv, bool as_user) {
    authenticate(sv);
    if (!as_user && sv->agent_id != NULL) connect_agent(sv);
}

/* Calls `operation` with `params` (JSON): the library builds the request
 * (as the agent with its token once registered; as the user with `as_user`
 * or before) and parses the answer. Returns the result (JSON; free with
 * cb_string_free) or NULL with the library's message in `last_message()`
 * (an error status of the service). A 401 renews the token and sends the
 * request once more. No answer at all ends the agent (or the job's
 * process), unless `status_out` asks for the HTTP status (0: no answer). */
static char *request(service *sv, const char *operation, const char *params, bool as_user,
                     long *status_out) {
    for (int attempt = 0;; attempt++) {
        char *req;
        bool user = as_user || sv->agent_id == NULL || sv->token == NULL;
        cb_status st = user ? cb_build_request(operation, params, sv->user_token, sv->tenant, &req)
                            : cb_build_request_as_agent(operation, params, sv->token, sv->tenant,
                                                        sv->agent_id, &req);
        check(st, operation);
        char *method = json_str_at(req, "method"), *path = json_str_at(req, "path");
        char *body = json_str_at(req, "body");
        /* The URL: base, path (percent-encoded by the library), query. */
        size_t cap = strlen(sv->api) + strlen(path) + strlen(req) + 16;
        char *url = xmalloc(cap);
        snprintf(url, cap, "%s%s", sv->api, path);
        char sep = '?';
        for (const char *q = json_next(json_get(req, "query"), NULL); q; q = json_next(NULL, q)) {
            const char *v = json_next(q, NULL);
            char *name = json_str(v), *value = json_str(json_next(NULL, v));
            char *ev = curl_easy_escape(NULL, value, 0);
            size_t at = strlen(url);
            snprintf(url + at, cap - at, "%c%s=%s", sep, name, ev);
            sep = '&';
            curl_free(ev);
            free(name);
            free(value);
        }
        struct curl_slist *h = NULL;
        for (const char *p = json_next(json_get(req, "headers"), NULL); p; p = json_next(NULL, p)) {
            const char *v = json_next(p, NULL);
            char *name = json_str(v), *value = json_str(json_next(NULL, v));
            char *line = fmt("%s: %s", name, value);
            h = curl_slist_append(h, line);
            free(line);
            free(name);
            free(value);
        }
        body_buf answer;
        long status = http(method, url, h, body, &answer);
        curl_slist_free_all(h);
        free(url);
        free(method);
        free(path);
        free(body);
        cb_string_free(req);
        if (status_out != NULL) *status_out = status;
        if (status == 401 && attempt == 0) {
            /* The token expired: once more with a new one. */
            free(answer.data);
            renew_tokens(sv, user);
            continue;
        }
        if (status == 0 && status_out == NULL)
            die("%s: no answer from %s: %s", operation, sv->api, no_answer);
        if (status == 0) return NULL;
        char *result = NULL;
        st = cb_parse_response(operation, params, (int)status, NULL, (const uint8_t *)answer.data,
                               answer.len, &result);
        free(answer.data);
        if (st != CB_OK) {
            fprintf(stderr, "agent: %s: %s: %s\n", operation, cb_status_name(st), last_message());
            return NULL;
        }
        return result;
    }
}

/* Calls `operation` as the agent (see `request`). */
static char *call(service *sv, const char *operation, const char *params) {
    return request(sv, operation, params, false, NULL);
}

/* Calls an operation that must succeed. */
static char *call_ok(service *sv, const char *operation, const char *params) {
    char *result = call(sv, operation, params);
    if (result == NULL) die("%s failed: %s", operation, last_message());
    return result;
}

/* -- Identity: registered once, kept in the state directory -- */

/* A JSON string of `s`, or null. */
static char *json_quote_or_null(const char *s) { return s ? json_quote(s) : xstrdup("null"); }

/* The state file holds the agent's password: written 0600 (write_all). */
static void save_state(service *sv) {
    char *path = join(sv->state_dir, "agent.json");
    char *id = json_quote(sv->agent_id), *marker = json_quote_or_null(sv->marker);
    char *password = json_quote_or_null(sv->password);
    char *fingerprint = json_quote_or_null(sv->fingerprint);
    char *text = fmt("{\"id\": %s, \"password\": %s, \"fingerprint\": %s, \"marker\": %s}", id,
                     password, fingerprint, marker);
    write_all(path, (const uint8_t *)text, strlen(text));
    free(text);
    free(fingerprint);
    free(password);
    free(marker);
    free(id);
    free(path);
}

/* Loads (or makes) the agent's RSA key and its id, password, fingerprint
 * and marker. */
static void load_state(service *sv) {
    make_dir(sv->state_dir);
    char *path = join(sv->state_dir, "agent-key.der");
    size_t len;
    uint8_t *der = read_maybe(path, &len);
    if (der != NULL) {
        check(cb_agent_key_from_der(der, len, &sv->key), path);
        free(der);
    } else {
        check(cb_agent_key_generate(0, &sv->key), "agent key");
        uint8_t *out;
        check(cb_agent_key_to_der(sv->key, &out, &len), "agent key");
        write_all(path, out, len);
        chmod(path, 0600);
        cb_bytes_free(out, len);
    }
    free(path);
    path = join(sv->state_dir, "agent.json");
    char *text = (char *)read_maybe(path, &len);
    if (text != NULL) {
        char *copy = xmalloc(len + 1);
        memcpy(copy, text, len);
        copy[len] = 0;
        sv->agent_id = json_str(json_get(copy, "id"));
        sv->password = json_str(json_get(copy, "password"));
        sv->fingerprint = json_str(json_get(copy, "fingerprint"));
        sv->marker = json_str(json_get(copy, "marker"));
        free(copy);
        free(text);
    }
    free(path);
}

/* A random (version 4) UUID: the host fingerprint of a registration. */
static char *random_uuid(void) {
    uint8_t b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) die("/dev/urandom: %s", strerror(errno));
    close(fd);
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    return fmt("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
               b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
               b[15]);
}

/* The agent's name (the host's) as a JSON string. */
static char *agent_name(void) {
    char host[256] = "c-agent";
    gethostname(host, sizeof host - 1);
    return json_quote(host);
}

/* The host as registration and authentication describe it (JSON members,
 * without braces): the service compares the fingerprint. */
static char *host_members(const service *sv) {
    char *fingerprint = json_quote(sv->fingerprint);
    char *members = fmt("\"os\": {\"name\": \"Linux\", \"version\": \"\", \"architecture\": \"64-bit\"},"
                        " \"fingerprint\": %s, \"addresses\": [{\"version\": 4, \"addr\": \"127.0.0.1\"}]",
                        fingerprint);
    free(fingerprint);
    return members;
}

/* Registers with the service unless the state directory holds an id (as
 * the user: registering is a user's operation). Keeps the password the
 * service answers with and the fingerprint sent, for the agent's tokens. */
static void register_agent(service *sv) {
    if (sv->agent_id != NULL) {
        /* Registered before: unless the service no longer knows the id
         * (the agent was deleted), as agentd's register. */
        char *id = json_quote(sv->agent_id), *params = fmt("{\"agent_id\": %s}", id);
        long status = 0;
        char *known = request(sv, "v2.agents.get_agent", params, true, &status);
        free(params);
        free(id);
        if (known == NULL && status != 404)
            die("agent %s: %s", sv->agent_id, status ? last_message() : no_answer);
        cb_string_free(known);
        if (known != NULL) return;
        printf("agent: %s is no longer registered: registering again\n", sv->agent_id);
        free(sv->agent_id);
        sv->agent_id = NULL;
        free(sv->marker);
        sv->marker = NULL;
    }
    char *rsa;
    check(cb_agent_key_rsa_public_key(sv->key, &rsa), "public key");
    free(sv->fingerprint);
    sv->fingerprint = random_uuid();
    char *name = agent_name(), *host = host_members(sv);
    char *params = fmt("{\"agent\": {\"name\": %s, \"version\": \"%s\", \"host\": {\"flavor\": \"nova\","
                       " \"region\": \"DFW\", \"machine\": {\"id\": \"00000000-0000-4000-8000-000000000000\"},"
                       " %s}, \"rsa_public_key\": %s, \"vault\": {\"use_internal\": false}}}",
                       name, cb_version(), host, rsa);
    char *answer = call_ok(sv, "v2.agents.register_agent", params);
    sv->agent_id = json_str(json_get(answer, "id"));
    if (sv->agent_id == NULL) die("register: no id in %s", answer);
    free(sv->password);
    sv->password = json_str(json_get(answer, "password"));
    save_state(sv);
    printf("agent: registered as %s\n", sv->agent_id);
    fflush(stdout);
    cb_string_free(answer);
    free(params);
    free(host);
    free(name);
    cb_string_free(rsa);
}

/* The agent's own token (POST /agents/tokens: its id, the password its
 * registration gave it, its host fingerprint), which every later call and
 * heartbeat carries, as agentd's connect. Where the service issues none
 * (or the state directory predates the password), the user's token with
 * X-Agent-Id. A 409 (another host authenticates as this agent) ends it. */
static void connect_agent(service *sv) {
    free(sv->token);
    sv->token = NULL;
    if (sv->password != NULL && sv->fingerprint != NULL) {
        char *tenant = json_quote(sv->tenant), *id = json_quote(sv->agent_id);
        char *password = json_quote(sv->password), *name = agent_name(), *host = host_members(sv);
        char *params = fmt("{\"credentials\": {\"project_id\": %s, \"id\": %s, \"password\": %s,"
                           " \"name\": %s, \"version\": \"%s\", \"host\": {%s}}}",
                           tenant, id, password, name, cb_version(), host);
        long status = 0;
        char *answer = request(sv, "v2.agents.authenticate_agent", params, true, &status);
        if (status == 409) die("authenticate agent: %s", last_message());
        sv->token = answer ? json_str_at(answer, "token.id") : NULL;
        cb_string_free(answer);
        free(params);
        free(host);
        free(name);
        free(password);
        free(id);
        free(tenant);
    }
    if (sv->token == NULL) {
        fprintf(stderr, "agent: no agent token: the user's with X-Agent-Id\n");
        sv->token = xstrdup(sv->user_token);
    }
}

/* -- Heartbeats -- */

/* Seconds between heartbeats when the settings do not say (agentd's). */
#define DEFAULT_HEARTBEAT_NS 30000000000LL

/* Reads the agent's settings (GET /agents/{id}/configuration): its event
 * channel (`system_preferences.events.rse`: host + channel) and the
 * heartbeat interval of the `active` mode. Without them no heartbeat is
 * sent (the service cannot be told). */
static void read_settings(service *sv) {
    char *id = json_quote(sv->agent_id);
    char *params = fmt("{\"agent_id\": %s}", id);
    char *settings = call(sv, "v2.settings.get_agent_settings", params);
    const char *rse = settings ? json_at(settings, "system_preferences.events.rse") : NULL;
    char *host = json_str_at(rse, "host"), *channel = json_str_at(rse, "channel");
    if (host != NULL && channel != NULL) {
        size_t h = strlen(host);
        while (h > 0 && host[h - 1] == '/') host[--h] = 0;
        const char *c = channel;
        while (*c == '/') c++;
        sv->heartbeat_url = fmt("%s/%s", host, c);
        const char *ms = json_at(rse, "heartbeat.interval_ms.active");
        long long every = ms ? atoll(ms) : 0;
        sv->heartbeat_every_ns = every > 0 ? every * 1000000LL : DEFAULT_HEARTBEAT_NS;
        printf("agent: heartbeats every %lld ms to %s\n", (long long)(sv->heartbeat_every_ns / 1000000),
               sv->heartbeat_url);
    } else {
        fprintf(stderr, "agent: no event channel in the agent's settings: no heartbeats\n");
    }
    free(channel);
    free(host);
    cb_string_free(settings);
    free(params);
    free(id);
}

/* Posts {"event": "agent_heartbeat"} on the agent's channel once the
 * interval has passed since the last one (called between polls, files and
 * ranges: no thread). The channel is not an API operation, so the request
 * is made here: the agent's token and X-Agent-Id as the library's requests
 * carry them (a 401 renews the token, as for those). A failed post is
 * logged; the next one is tried at the interval. */
static void heartbeat(service *sv) {
    int64_t now = now_ns();
    if (sv->heartbeat_url == NULL || now < sv->next_heartbeat_ns) return;
    sv->next_heartbeat_ns = now + sv->heartbeat_every_ns;
    for (int attempt = 0;; attempt++) {
        char *token = fmt("X-Auth-Token: %s", sv->token), *agent = fmt("X-Agent-Id: %s", sv->agent_id);
        char *ua = fmt("User-Agent: cloudbackup-c-agent/%s", cb_version());
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        h = curl_slist_append(h, token);
        h = curl_slist_append(h, agent);
        h = curl_slist_append(h, ua);
        body_buf answer;
        long status = http("POST", sv->heartbeat_url, h, "{\"event\": \"agent_heartbeat\"}", &answer);
        curl_slist_free_all(h);
        free(ua);
        free(agent);
        free(token);
        if (status == 401 && attempt == 0) {
            free(answer.data);
            renew_tokens(sv, false);
            continue;
        }
        if (status == 0 && !sv->away)
            fprintf(stderr, "agent: heartbeat not sent: %s\n", no_answer);
        else if (status != 202 && status != 0)
            fprintf(stderr, "agent: heartbeat refused: HTTP %ld: %.200s\n", status, answer.data);
        free(answer.data);
        return;
    }
}

/* -- Jobs -- */

/* A backup or restore in progress, as its tick sees it. */
typedef struct {
    service *sv;
    cb_job_reporter *job;
    const char *kind;      /* "backup" or "restore" */
    const char *id;
    const char *delay_env; /* a test delay per step, in ms (job_tick) */
    int64_t last_check_ns; /* when the job was last read again */
} running_job;

/* A running restore, as its range hook sees it. */
typedef struct {
    restore_hooks hooks;
    running_job run;
} restore_run;

/* PATCHes the job with `patch` (JSON text). */
static void send_patch_text(service *sv, const char *kind, const char *id, const char *patch) {
    char *qid = json_quote(id);
    char *params = fmt("{\"%s_id\": %s, \"patch\": %s}", kind, qid, patch);
    char *op = fmt("v2.%ss.update_%s", kind, kind);
    char *answer = call(sv, op, params);
    cb_string_free(answer);
    free(op);
    free(params);
    free(qid);
}

/* PATCHes the job with `patch` (from the reporter, freed here; NULL: nothing). */
static void send_patch(service *sv, const char *kind, const char *id, char *patch) {
    if (patch == NULL) return;
    send_patch_text(sv, kind, id, patch);
    cb_string_free(patch);
}

/* Reads the job again (a user's stop request shows up). */
static void observe_job(service *sv, cb_job_reporter *job, const char *kind, const char *id) {
    char *qid = json_quote(id);
    char *params = fmt("{\"%s_id\": %s}", kind, qid);
    char *op = fmt("v2.%ss.get_%s", kind, kind);
    char *resource = call(sv, op, params);
    if (resource != NULL) check(cb_job_reporter_observe(job, resource), "observe");
    cb_string_free(resource);
    free(op);
    free(params);
    free(qid);
}

/* How often a running job is read again, for stop requests. */
#define STOP_CHECK_NS 300000000L

/* What every job does between steps: an optional test delay (the
 * environment variable `delay_env`, in ms), a heartbeat when due, the job
 * read again at most every STOP_CHECK_NS (a user's stop shows up); sets
 * `*now` and returns whether a stop was requested. */
static bool job_tick(running_job *run, int64_t *now) {
    const char *delay = getenv(run->delay_env);
    if (delay != NULL) pause_ns(atol(delay) * 1000000L);
    heartbeat(run->sv);
    *now = now_ns();
    if (*now - run->last_check_ns >= STOP_CHECK_NS) {
        observe_job(run->sv, run->job, run->kind, run->id);
        run->last_check_ns = *now;
    }
    bool stop = false;
    check(cb_job_reporter_stop_requested(run->job, &stop), "stop requested");
    return stop;
}

/* Takes the job up: PATCHes it `queued`, `preparing`, then `in_progress`. */
static void job_start(service *sv, cb_job_reporter *job, const char *kind, const char *id) {
    char *patch;
    check(cb_job_reporter_queued(job, &patch), "queued");
    send_patch(sv, kind, id, patch);
    check(cb_job_reporter_preparing(job, &patch), "preparing");
    send_patch(sv, kind, id, patch);
    check(cb_job_reporter_started(job, now_ns(), &patch), "started");
    send_patch(sv, kind, id, patch);
}

/* Sends the job's final `patch` (freed) and says how it ended. */
static void job_end(service *sv, cb_job_reporter *job, const char *kind, const char *id,
                    char *patch) {
    send_patch(sv, kind, id, patch);
    char *state;
    check(cb_job_reporter_state(job, &state), "state");
    printf("agent: %s %s: %s\n", kind, id, state);
    fflush(stdout);
    cb_string_free(state);
}

/* PATCHes the job's progress: `counters` (JSON) at `now`. */
static void job_progress(running_job *run, const char *counters, int64_t now) {
    char *patch;
    check(cb_job_reporter_progress(run->job, counters, now, &patch), "progress");
    send_patch(run->sv, run->kind, run->id, patch);
}

/* Between ranges: progress, and whether a stop was requested. An optional
 * delay ($CLOUDBACKUP_RANGE_DELAY_MS) slows restores down for tests. */
static bool restore_tick(restore_hooks *h, uint64_t written) {
    running_job *run = &((restore_run *)h)->run;
    int64_t now;
    if (job_tick(run, &now)) return true;
    char *counters = fmt("{\"bytes_restored\": %llu}", (unsigned long long)written);
    job_progress(run, counters, now);
    free(counters);
    return false;
}

/* The vault password of a request: sent encrypted for this agent's key,
 * else $CLOUDBACKUP_PASSWORD (which open_vault reads). */
static void use_password(service *sv, const char *event) {
    char *hex = json_str(json_get(event, "encrypted_password_hex"));
    if (hex == NULL || *hex == 0) {
        free(hex);
        return;
    }
    char *password;
    check(cb_agent_key_decrypt_password(sv->key, hex, &password), "vault password");
    setenv("CLOUDBACKUP_PASSWORD", password, 1);
    cb_string_free(password);
    free(hex);
}

/* Runs the restore an event asks for: queued, preparing, in_progress with
 * progress, then completed (or completed_with_errors, or stopped). */
static void run_restore(service *sv, const char *event, const char *restore_id) {
    char *qid = json_quote(restore_id);
    char *params = fmt("{\"restore_id\": %s}", qid);
    char *restore = call_ok(sv, "v2.restores.get_restore", params);
    cb_job_reporter *job;
    check(cb_job_reporter_new("restore", restore, 0, &job), "restore");
    char *state;
    check(cb_job_reporter_state(job, &state), "state");
    bool runnable = strcmp(state, "start_requested") == 0;
    cb_string_free(state);
    /* The backup's snapshot: the service's number, a vault id prefix. */
    char *backup_id = json_dup(json_at(restore, "backup.id"));
    char *bparams = fmt("{\"backup_id\": %s}", backup_id);
    char *backup = call_ok(sv, "v2.backups.get_backup", bparams);
    const char *sid = json_get(backup, "snapshot_id");
    char *destination = json_str(json_get(restore, "destination_path"));
    if (!runnable || sid == NULL || *sid == 'n' || destination == NULL) {
        fprintf(stderr, "agent: restore %s: not run (state, snapshot or destination)\n", restore_id);
    } else {
        char *prefix, *patch;
        check(cb_vault_snapshot_prefix(strtoll(sid, NULL, 10), &prefix), "snapshot id");
        use_password(sv, event);
        job_start(sv, job, "restore", restore_id);
        restore_run run = {.hooks = {.tick = restore_tick},
                           .run = {.sv = sv, .job = job, .kind = "restore", .id = restore_id,
                                   .delay_env = "CLOUDBACKUP_RANGE_DELAY_MS"}};
        int rc = restore_snapshot(sv->vault_dir, destination, prefix, &run.hooks);
        /* The final counters come from the session's report. */
        const char *report = run.hooks.report;
        const char *files = report ? json_get(report, "files_restored") : NULL;
        const char *bytes = report ? json_get(report, "bytes_restored") : NULL;
        char *counters = report ? fmt("{\"files_restored\": %lld, \"bytes_restored\": %lld}",
                                      files ? atoll(files) : 0LL, bytes ? atoll(bytes) : 0LL)
                                : xstrdup("{}");
        const char *errors = report ? json_get(report, "errors") : NULL;
        char *errors_json = errors && *errors != 'n' ? json_dup(errors) : NULL;
        if (rc == 4) observe_job(sv, job, "restore", restore_id);
        check(cb_job_reporter_finished(job, counters, errors_json, now_ns(), &patch), "finished");
        job_end(sv, job, "restore", restore_id, patch);
        free(errors_json);
        free(counters);
        free(run.hooks.report);
        cb_string_free(prefix);
    }
    free(destination);
    cb_string_free(backup);
    free(bparams);
    free(backup_id);
    cb_job_reporter_free(job);
    cb_string_free(restore);
    free(params);
    free(qid);
}

/* The backup's /errors value for the snapshot's unreadable paths, as the
 * core shapes it (cb_snapshot_error_report), or NULL when there are none. */
static char *snapshot_errors(cb_vault *vault, const char *id, const uint8_t *data, size_t len) {
    cb_snapshot *snapshot;
    check(cb_snapshot_open(vault, id, data, len, &snapshot), "snapshot");
    char *json;
    check(cb_snapshot_error_report(snapshot, &json), "error report");
    char *out = strcmp(json, "null") != 0 ? xstrdup(json) : NULL;
    cb_string_free(json);
    cb_snapshot_free(snapshot);
    return out;
}

/* The v2 backup counters among the session's (it has more). */
static char *backup_counters(const char *session_counters) {
    static const char *names[] = {"files_searched", "files_backed_up", "bytes_searched",
                                  "bytes_backed_up", "bytes_in_db"};
    char *out = xstrdup("{");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = session_counters ? json_get(session_counters, names[i]) : NULL;
        char *grown = fmt("%s%s\"%s\": %lld", out, i ? ", " : "", names[i], v ? atoll(v) : 0LL);
        free(out);
        out = grown;
    }
    char *closed = fmt("%s}", out);
    free(out);
    return closed;
}

/* A running backup, as its file hook sees it. */
typedef struct {
    backup_hooks hooks;
    running_job run;
} backup_job;

/* Between files: a heartbeat when due, progress, and whether a stop was
 * requested. An optional delay ($CLOUDBACKUP_FILE_DELAY_MS) slows backups
 * down for tests. */
static bool backup_tick(backup_hooks *h, const cb_backup_session *session) {
    running_job *run = &((backup_job *)h)->run;
    int64_t now;
    if (job_tick(run, &now)) return true;
    char *all;
    check(cb_backup_session_counters(session, &all), "counters");
    char *counters = backup_counters(all);
    job_progress(run, counters, now);
    free(counters);
    cb_string_free(all);
    return false;
}

/* The configuration's exclusions under `root` as a backup filter (NULL:
 * none): v2 path filters made relative to the root, which the snapshot
 * names "/" (agentd's _relative_filters); the library turns them into
 * patterns. */
static cb_backup_filter *exclusion_filter(const char *exclusions, const char *root) {
    char *list = xstrdup("");
    size_t rlen = strlen(root);
    while (rlen > 1 && root[rlen - 1] == '/') rlen--;
    for (const char *e = json_next(exclusions, NULL); e; e = json_next(NULL, e)) {
        char *path = json_str(json_get(e, "path")), *type = json_str(json_get(e, "type"));
        if (path != NULL && strncmp(path, root, rlen) == 0 && path[rlen] == '/' && path[rlen + 1]) {
            char *rel = json_quote(path + rlen);
            char *grown = fmt("%s%s{\"type\": \"%s\", \"path\": %s}", list, *list ? ", " : "",
                              type && strcmp(type, "folder") == 0 ? "folder" : "file", rel);
            free(list);
            list = grown;
            free(rel);
        }
        free(type);
        free(path);
    }
    cb_backup_filter *filter = NULL;
    if (*list) {
        char *options = fmt("{\"exclusions\": [%s]}", list);
        check(cb_backup_filter_new(options, &filter), "exclusions");
        free(options);
    }
    free(list);
    return filter;
}

/* Runs the backup an event asks for (as agentd does): the configuration's
 * one included folder, less its exclusions, into the vault; queued,
 * preparing, in_progress with progress, /snapshot_id, then completed (or
 * completed_with_errors with /errors, or stopped; failed when the folder
 * cannot be read). */
static void run_backup(service *sv, const char *event, const char *backup_id) {
    char *qid = json_quote(backup_id);
    char *params = fmt("{\"backup_id\": %s}", qid);
    char *backup = call_ok(sv, "v2.backups.get_backup", params);
    const char *cid = json_at(backup, "configuration.id");
    char *config_id = cid ? json_dup(cid) : xstrdup("null");
    char *cparams = fmt("{\"configuration_id\": %s}", config_id);
    char *config = call(sv, "v2.configurations.get_configuration", cparams);
    /* One source tree per snapshot (the vault's): exactly one folder. */
    const char *incl = config ? json_get(config, "inclusions") : NULL;
    const char *first = json_next(incl, NULL);
    char *folder = first && json_next(NULL, first) == NULL ? json_str(json_get(first, "path")) : NULL;
    struct stat st;
    cb_job_reporter *job;
    check(cb_job_reporter_new("backup", backup, 0, &job), "backup");
    char *state, *patch;
    check(cb_job_reporter_state(job, &state), "state");
    bool runnable = strcmp(state, "start_requested") == 0;
    bool stop_asked = strcmp(state, "stop_requested") == 0;
    cb_string_free(state);
    if (folder == NULL || stat(folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "agent: backup %s: the configuration must include exactly one folder\n",
                backup_id);
    } else if (stop_asked) {
        check(cb_job_reporter_finished(job, "{}", NULL, now_ns(), &patch), "finished");
        send_patch(sv, "backup", backup_id, patch);
        printf("agent: backup %s: stopped before it ran\n", backup_id);
    } else if (!runnable) {
        fprintf(stderr, "agent: backup %s: not run (its state)\n", backup_id);
    } else {
        use_password(sv, event);
        job_start(sv, job, "backup", backup_id);
        char *cfg_id = json_str(json_at(backup, "configuration.id"));
        char *root = realpath(folder, NULL);
        backup_job run = {.hooks = {.tick = backup_tick, .configuration_id = cfg_id},
                          .run = {.sv = sv, .job = job, .kind = "backup", .id = backup_id,
                                  .delay_env = "CLOUDBACKUP_FILE_DELAY_MS", .last_check_ns = now_ns()}};
        run.hooks.filter = exclusion_filter(json_get(config, "exclusions"), root ? root : folder);
        int rc = backup_source(folder, sv->vault_dir, false, &run.hooks);
        char *counters = backup_counters(run.hooks.counters);
        if (rc < 0) {
            check(cb_job_reporter_failed(job, run.hooks.failure, now_ns(), &patch), "failed");
        } else {
            if (rc == 4) observe_job(sv, job, "backup", backup_id);
            if (run.hooks.snapshot_id != NULL) {
                int64_t number;
                check(cb_snapshot_id_for_vault_snapshot(run.hooks.snapshot_id, &number), "snapshot id");
                /* Not a state change: the patch agentd sends too. */
                char *sid = fmt("[{\"op\": \"replace\", \"path\": \"/snapshot_id\", \"value\": %lld}]",
                                (long long)number);
                send_patch_text(sv, "backup", backup_id, sid);
                free(sid);
            }
            check(cb_job_reporter_finished(job, counters, run.hooks.errors, now_ns(), &patch), "finished");
        }
        job_end(sv, job, "backup", backup_id, patch);
        free(counters);
        cb_backup_filter_free(run.hooks.filter);
        cb_string_free(run.hooks.counters);
        free(run.hooks.snapshot_id);
        free(run.hooks.errors);
        free(run.hooks.failure);
        free(root);
        free(cfg_id);
    }
    cb_job_reporter_free(job);
    free(folder);
    cb_string_free(config);
    free(cparams);
    free(config_id);
    cb_string_free(backup);
    free(params);
    free(qid);
}

/* Reports a job whose run ended without reporting its end (`why`: what
 * failed), as agentd does for an exception: the job read again, then
 * `stopped` when a stop was requested meanwhile, else `failed` with `why`
 * as its diagnostics; nothing for a job that ended after all, or whose
 * state the lifecycle lets no agent end (the core refuses the patch). */
static void fail_job(service *sv, const char *kind, const char *id, const char *why) {
    fprintf(stderr, "agent: %s %s failed: %s\n", kind, id, why);
    char *qid = json_quote(id);
    char *params = fmt("{\"%s_id\": %s}", kind, qid);
    char *op = fmt("v2.%ss.get_%s", kind, kind);
    char *resource = call(sv, op, params);
    cb_job_reporter *job = NULL;
    if (resource == NULL || cb_job_reporter_new(kind, resource, 0, &job) != CB_OK) {
        fprintf(stderr, "agent: %s %s: not reported (it could not be read)\n", kind, id);
    } else {
        bool finished, stop;
        check(cb_job_reporter_is_finished(job, &finished), "is finished");
        check(cb_job_reporter_stop_requested(job, &stop), "stop requested");
        char *patch = NULL;
        cb_status st = CB_OK;
        if (!finished)
            st = stop ? cb_job_reporter_finished(job, "{}", NULL, now_ns(), &patch)
                      : cb_job_reporter_failed(job, why, now_ns(), &patch);
        if (st != CB_OK)
            fprintf(stderr, "agent: %s %s: not reported: %s: %s\n", kind, id, cb_status_name(st),
                    last_message());
        job_end(sv, job, kind, id, patch);
    }
    cb_job_reporter_free(job);
    cb_string_free(resource);
    free(op);
    free(params);
    free(qid);
}

/* Runs one job (`kind` "backup" or "restore") in a process of its own, so
 * that whatever ends it early ends that job alone: an error of the library
 * or of the system (die() in the job's process, which hands its message
 * over a pipe), or a crash. The agent then reports the job `failed` with
 * that message (fail_job) and takes the next one; the job's memory, files
 * and vault lock go with its process (die() removes the lock). The job's
 * process dies with the agent's (a killed agent's job is recovered when it
 * starts again, as before). */
static void run_job(service *sv, const char *kind, const char *event, const char *id) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
    fflush(NULL); /* nothing buffered is written twice */
    pid_t agent = getpid(), pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != agent) _exit(1); /* the agent is gone already */
        job_diagnostic_fd = fds[1];
        if (strcmp(kind, "restore") == 0) run_restore(sv, event, id);
        else run_backup(sv, event, id);
        exit(0);
    }
    close(fds[1]);
    char why[2048];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], why + got, sizeof why - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof why - 1) break;
    }
    why[got] = 0;
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    if (got == 0 && WIFSIGNALED(status))
        snprintf(why, sizeof why, "the job's process ended by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (got == 0)
        snprintf(why, sizeof why, "the job's process exited with status %d", WEXITSTATUS(status));
    fail_job(sv, kind, id, why);
}

/* Reads the events after the marker and handles them in order. The marker
 * is saved before a job runs: a killed job is not started again. */
static void poll_events(service *sv) {
    char *id = json_quote(sv->agent_id);
    char *marker = sv->marker ? json_quote(sv->marker) : NULL;
    char *params = marker ? fmt("{\"agent_id\": %s, \"page\": {\"limit\": 100, \"marker\": %s}}", id, marker)
                          : fmt("{\"agent_id\": %s, \"page\": {\"limit\": 100}}", id);
    /* No answer: the service is away (restarted, the network down); the
     * agent polls on rather than exit, and says so once per outage. */
    long status;
    char *answer = request(sv, "v2.events.list_agent_events", params, false, &status);
    if (status == 0 && !sv->away)
        fprintf(stderr, "agent: the service does not answer (%s); polling on\n", no_answer);
    else if (status != 0 && sv->away)
        fprintf(stderr, "agent: the service answers again\n");
    sv->away = status == 0;
    for (const char *e = answer ? json_next(json_get(answer, "events"), NULL) : NULL; e;
         e = json_next(NULL, e)) {
        char *event = json_dup(e);
        free(sv->marker);
        const char *eid = json_get(event, "id");
        sv->marker = eid && *json_ws(eid) == '"' ? json_str(eid) : json_dup(eid);
        save_state(sv);
        char *name = json_str(json_get(event, "event"));
        char *restore_id = json_str_at(event, "restore.id");
        char *backup_id = json_str_at(event, "backup.id");
        if (name != NULL && strcmp(name, "restore_start_request") == 0 && restore_id != NULL)
            run_job(sv, "restore", event, restore_id);
        else if (name != NULL && strcmp(name, "backup_start_request") == 0 && backup_id != NULL)
            run_job(sv, "backup", event, backup_id);
        free(backup_id);
        free(restore_id);
        free(name);
        free(event);
    }
    cb_string_free(answer);
    free(params);
    free(marker);
    free(id);
}

/* Ends this agent's jobs an earlier run left behind (killed mid-job):
 * which are this agent's and what to report is the core's rule
 * (cb_job_reporter_runs_on, cb_job_reporter_recover), as in agentd. */
static void recover_jobs(service *sv) {
    static const char *kinds[] = {"backup", "restore"};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        const char *kind = kinds[k];
        char *op = fmt("v2.%ss.list_%ss", kind, kind), *member = fmt("%ss", kind);
        char *marker = NULL; /* the last id seen, quoted */
        for (;;) {
            char *params = marker ? fmt("{\"page\": {\"limit\": 100, \"marker\": %s}}", marker)
                                  : xstrdup("{\"page\": {\"limit\": 100}}");
            char *answer = call(sv, op, params);
            free(params);
            size_t n = 0;
            for (const char *j = answer ? json_next(json_get(answer, member), NULL) : NULL; j;
                 j = json_next(NULL, j)) {
                n++;
                char *resource = json_dup(j);
                const char *jid = json_get(resource, "id");
                char *id = jid == NULL ? NULL : *json_ws(jid) == '"' ? json_str(jid) : json_dup(jid);
                free(marker);
                marker = id ? json_quote(id) : NULL;
                cb_job_reporter *job = NULL;
                if (id != NULL && cb_job_reporter_new(kind, resource, 0, &job) == CB_OK) {
                    bool mine = false;
                    char *patch = NULL;
                    check(cb_job_reporter_runs_on(job, sv->agent_id, &mine), "runs on");
                    if (mine) check(cb_job_reporter_recover(job, now_ns(), &patch), "recover");
                    if (patch != NULL) {
                        printf("agent: %s %s was left running by an earlier run: reported ended\n", kind, id);
                        fflush(stdout);
                        send_patch(sv, kind, id, patch);
                    }
                    cb_job_reporter_free(job);
                }
                free(id);
                free(resource);
            }
            cb_string_free(answer);
            if (n < 100 || marker == NULL) break;
        }
        free(marker);
        free(member);
        free(op);
    }
}

/* Set by SIGINT / SIGTERM: the loop ends after the current poll. */
static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

/* agent run --api URL --username U --api-key K --vault DIR [--state-dir DIR]
 * [--poll-ms N]: registers (or reuses its id), then polls its events. */
static int cmd_run(int argc, char **argv) {
    service sv = {0};
    long poll_ms = 500;
    const char *state_dir = ".cloudbackup-agent";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--api") == 0) sv.api = argv[i + 1];
        else if (strcmp(argv[i], "--username") == 0) sv.username = argv[i + 1];
        else if (strcmp(argv[i], "--api-key") == 0) sv.api_key = argv[i + 1];
        else if (strcmp(argv[i], "--vault") == 0) sv.vault_dir = argv[i + 1];
        else if (strcmp(argv[i], "--state-dir") == 0) state_dir = argv[i + 1];
        else if (strcmp(argv[i], "--poll-ms") == 0) poll_ms = atol(argv[i + 1]);
        else die("run: unknown option %s", argv[i]);
    }
    if (!sv.api || !sv.username || !sv.api_key || !sv.vault_dir)
        die("run: --api, --username, --api-key and --vault are required");
    sv.state_dir = xstrdup(state_dir);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    load_state(&sv);
    authenticate(&sv);
    register_agent(&sv);
    /* From here on the agent calls as itself (agentd's start). */
    connect_agent(&sv);
    char *id = json_quote(sv.agent_id);
    char *params = fmt("{\"agent_id\": %s, \"event\": {\"event\": \"startup\"}}", id);
    cb_string_free(call(&sv, "v2.events.post_agent_event", params));
    read_settings(&sv);
    recover_jobs(&sv);
    printf("agent: %s polling %s\n", sv.agent_id, sv.api);
    fflush(stdout);
    while (!stopping) {
        heartbeat(&sv);
        poll_events(&sv);
        heartbeat(&sv);
        /* Up to the next poll, or to the next heartbeat when sooner. */
        int64_t wait = poll_ms * 1000000LL, due = sv.next_heartbeat_ns - now_ns();
        if (sv.heartbeat_url != NULL && due < wait) wait = due > 0 ? due : 0;
        pause_ns((long)wait);
    }
    /* Stopped (SIGINT, SIGTERM): the service shows the agent offline at
     * once, not after the heartbeat timeout. Best effort, as agentd's. */
    free(params);
    params = fmt("{\"agent_id\": %s, \"event\": {\"event\": \"shutdown\"}}", id);
    long status;
    char *answer = request(&sv, "v2.events.post_agent_event", params, false, &status);
    if (answer == NULL) fprintf(stderr, "agent: shutdown event not sent (HTTP %ld)\n", status);
    cb_string_free(answer);
    printf("agent: %s stopped\n", sv.agent_id);
    fflush(stdout);
    free(params);
    free(id);
    cb_agent_key_free(sv.key);
    free(sv.user_token);
    free(sv.token);
    free(sv.tenant);
    free(sv.agent_id);
    free(sv.password);
    free(sv.fingerprint);
    free(sv.marker);
    free(sv.heartbeat_url);
    free(sv.state_dir);
    curl_global_cleanup();
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "init") == 0) return cmd_init(argv[2]);
    if (argc == 4 && strcmp(argv[1], "backup") == 0) return cmd_backup(argv[2], argv[3], false);
    if (argc == 5 && strcmp(argv[1], "backup") == 0 && strcmp(argv[2], "--force") == 0)
        return cmd_backup(argv[3], argv[4], true);
    if (argc == 3 && strcmp(argv[1], "verify") == 0) return cmd_verify(argv[2]);
    if (argc == 4 && strcmp(argv[1], "restore") == 0) return cmd_restore(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "snapshots") == 0) return cmd_snapshots(argv[2]);
    if (argc == 4 && strcmp(argv[1], "compare") == 0) return cmd_compare(argv[2], argv[3]);
    if (argc >= 2 && strcmp(argv[1], "run") == 0) return cmd_run(argc, argv);
    fprintf(stderr,
            "usage: %s init VAULT | backup [--force] SOURCE VAULT | verify VAULT |\n"
            "       restore VAULT TARGET | snapshots VAULT | compare A B |\n"
            "       run --api URL --username U --api-key K --vault DIR [--state-dir DIR]\n"
            "       (password in $CLOUDBACKUP_PASSWORD; libcloudbackup %s)\n",
            argv[0], cb_version());
    return 2;
}
