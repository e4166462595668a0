/*
 * agent.c: a small backup agent on libcloudbackup.
 *
 * It backs a directory up into a local vault directory laid out as the
 * vault format names its objects (config, bundles/<id>, index/<id>,
 * snapshots/<id>), verifies the vault, restores the newest snapshot into
 * another directory, and compares two trees byte for byte:
 *
 *   agent backup  SOURCE VAULT     back SOURCE up (creates VAULT if needed)
 *   agent verify  VAULT            check every bundle against the index
 *   agent restore VAULT TARGET     restore the newest snapshot into TARGET
 *   agent snapshots VAULT          one JSON line per snapshot: {"id", "snapshot"}
 *   agent compare A B              files, directories, symlinks, modes equal?
 *
 * The password comes from $CLOUDBACKUP_PASSWORD. Optional, for tests:
 * $CLOUDBACKUP_KDF and $CLOUDBACKUP_SETTINGS (JSON, see cb_vault_create).
 *
 * The library does no I/O: the agent walks the tree (opendir/readdir,
 * lstat, readlink), pushes bytes into a backup session and stores what
 * comes out; to restore it fetches the byte ranges the session plans and
 * writes the verified data the session hands back.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cloudbackup.h"

#define READ_SIZE (256 * 1024)

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* Exits with the library's message when a call fails. */
static void check(cb_status st, const char *what) {
    if (st == CB_OK) return;
    char message[1024];
    cb_last_error_message(message, sizeof message, NULL);
    die("%s: %s: %s", what, cb_status_name(st), message);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
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

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static uint8_t *read_all(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("%s: %s", path, strerror(errno));
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

/* Writes a file whole, through a temporary name, so a crash never leaves
 * a partial object under its final name. */
static void write_all(const char *path, const uint8_t *data, size_t len) {
    char *tmp = xmalloc(strlen(path) + 5);
    sprintf(tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("%s: %s", tmp, strerror(errno));
    size_t put = 0;
    while (put < len) {
        ssize_t n = write(fd, data + put, len - put);
        if (n < 0) die("%s: %s", tmp, strerror(errno));
        put += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) die("%s: %s", tmp, strerror(errno));
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

/* The names in a directory, sorted, "." and ".." left out. */
static char **list_dir(const char *path, size_t *count) {
    DIR *d = opendir(path);
    if (d == NULL) die("%s: %s", path, strerror(errno));
    size_t n = 0, cap = 16;
    char **names = xmalloc(cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
            if (names == NULL) die("out of memory");
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    *count = n;
    return names;
}

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

/* Opens VAULT/config, or creates the vault when `create` is set. */
static cb_vault *open_vault(const char *dir, int create) {
    size_t pw_len;
    const char *pw = password(&pw_len);
    char *config_path = join(dir, "config");
    cb_vault *vault = NULL;
    if (access(config_path, F_OK) == 0) {
        size_t len;
        uint8_t *config = read_all(config_path, &len);
        check(cb_vault_open(config, len, (const uint8_t *)pw, pw_len, &vault), "open vault");
        free(config);
    } else if (create) {
        make_dir(dir);
        const char *subdirs[] = {"bundles", "index", "snapshots"};
        for (size_t i = 0; i < 3; i++) {
            char *p = join(dir, subdirs[i]);
            make_dir(p);
            free(p);
        }
        check(cb_vault_create((const uint8_t *)pw, pw_len, getenv("CLOUDBACKUP_SETTINGS"),
                              getenv("CLOUDBACKUP_KDF"), &vault),
              "create vault");
        uint8_t *config;
        size_t len;
        check(cb_vault_config(vault, &config, &len), "vault config");
        write_all(config_path, config, len);
        cb_bytes_free(config, len);
        printf("created vault %s\n", dir);
    } else {
        die("%s: no vault here", dir);
    }
    free(config_path);
    return vault;
}

/* An index with every delta of VAULT/index loaded. */
static cb_index *load_index(const char *dir, cb_vault *vault, size_t *deltas) {
    cb_index *index;
    check(cb_index_new(&index), "new index");
    char *index_dir = join(dir, "index");
    size_t n;
    char **names = list_dir(index_dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) != 64) continue; /* e.g. a leftover .tmp */
        char *path = join(index_dir, names[i]);
        size_t len;
        uint8_t *data = read_all(path, &len);
        check(cb_index_load_delta(index, vault, names[i], data, len), path);
        free(data);
        free(path);
    }
    *deltas = n;
    free_names(names, n);
    free(index_dir);
    return index;
}

/* ------------------------------------------------------------------ */
/* backup                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *vault_dir;
    cb_backup_session *session;
    size_t files, dirs, symlinks, skipped, bundles;
    uint8_t *buf;
} backup_run;

/* Stores every bundle the session has finished. */
static void store_bundles(backup_run *run) {
    for (;;) {
        char *id;
        uint8_t *data;
        size_t len;
        check(cb_backup_session_take_bundle(run->session, &id, &data, &len), "take bundle");
        if (id == NULL) return;
        char *dir = join(run->vault_dir, "bundles");
        char *path = join(dir, id);
        write_all(path, data, len);
        run->bundles++;
        free(path);
        free(dir);
        cb_string_free(id);
        cb_bytes_free(data, len);
    }
}

/* Stores a finished object (index delta or snapshot) under VAULT/<sub>/<id>. */
static char *store_object(const char *vault_dir, const char *sub, char *id, uint8_t *data, size_t len) {
    if (id == NULL) die("no %s to store", sub);
    char *dir = join(vault_dir, sub);
    char *path = join(dir, id);
    write_all(path, data, len);
    free(path);
    free(dir);
    char *kept = strdup(id);
    cb_string_free(id);
    cb_bytes_free(data, len);
    return kept;
}

/* Backs up `fs_path`, named `name` ("/a/b") in the snapshot. */
static void backup_tree(backup_run *run, const char *fs_path, const char *name) {
    size_t n;
    char **names = list_dir(fs_path, &n);
    for (size_t i = 0; i < n; i++) {
        char *path = join(fs_path, names[i]);
        char *entry = join(name, names[i]);
        struct stat st;
        if (lstat(path, &st) != 0) die("%s: %s", path, strerror(errno));
        uint32_t mode = (uint32_t)(st.st_mode & 07777);
        int64_t mtime = (int64_t)st.st_mtime;
        if (S_ISREG(st.st_mode)) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) die("%s: %s", path, strerror(errno));
            check(cb_backup_session_start_file(run->session, entry, mode, mtime), entry);
            ssize_t got;
            while ((got = read(fd, run->buf, READ_SIZE)) > 0) {
                check(cb_backup_session_write(run->session, run->buf, (size_t)got), entry);
                store_bundles(run); /* memory stays bounded */
            }
            if (got < 0) die("%s: %s", path, strerror(errno));
            close(fd);
            check(cb_backup_session_finish_file(run->session), entry);
            run->files++;
        } else if (S_ISDIR(st.st_mode)) {
            check(cb_backup_session_add_dir(run->session, entry, mode, mtime), entry);
            run->dirs++;
            backup_tree(run, path, entry);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX + 1];
            ssize_t len = readlink(path, target, PATH_MAX);
            if (len < 0) die("%s: %s", path, strerror(errno));
            target[len] = 0;
            check(cb_backup_session_add_symlink(run->session, entry, target, mtime), entry);
            run->symlinks++;
        } else {
            run->skipped++; /* devices, sockets, fifos */
        }
        free(entry);
        free(path);
    }
    free_names(names, n);
}

static int cmd_backup(const char *source, const char *vault_dir) {
    cb_vault *vault = open_vault(vault_dir, 1);
    size_t deltas;
    cb_index *index = load_index(vault_dir, vault, &deltas);
    backup_run run = {.vault_dir = vault_dir, .buf = xmalloc(READ_SIZE)};
    check(cb_backup_session_new(vault, index, 2, &run.session), "start backup");
    backup_tree(&run, source, "/");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    check(cb_backup_session_finish(run.session, (int64_t)time(NULL), host, NULL), "finish backup");
    store_bundles(&run);
    /* Bundles first, then the index delta, then the snapshot: a snapshot
     * never names data that is not stored yet. */
    char *id;
    uint8_t *data;
    size_t len;
    check(cb_backup_session_take_index(run.session, &id, &data, &len), "take index");
    free(store_object(vault_dir, "index", id, data, len));
    check(cb_backup_session_take_snapshot(run.session, &id, &data, &len), "take snapshot");
    char *snapshot = store_object(vault_dir, "snapshots", id, data, len);
    char *counters;
    check(cb_backup_session_counters(run.session, &counters), "counters");
    printf("backup: %zu files, %zu dirs, %zu symlinks (%zu skipped); %zu new bundles; "
           "deduplicated against %zu index deltas\n",
           run.files, run.dirs, run.symlinks, run.skipped, run.bundles, deltas);
    printf("backup: snapshot %.16s..., counters %s\n", snapshot, counters);
    cb_string_free(counters);
    free(snapshot);
    free(run.buf);
    cb_backup_session_free(run.session);
    cb_index_free(index);
    cb_vault_free(vault);
    return 0;
}

/* ------------------------------------------------------------------ */
/* verify                                                              */
/* ------------------------------------------------------------------ */

static int cmd_verify(const char *vault_dir) {
    cb_vault *vault = open_vault(vault_dir, 0);
    size_t deltas;
    cb_index *index = load_index(vault_dir, vault, &deltas);
    cb_verifier *verifier;
    check(cb_verifier_new(vault, index, &verifier), "start verify");
    char *dir = join(vault_dir, "bundles");
    size_t n;
    char **names = list_dir(dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) != 64) continue;
        char *path = join(dir, names[i]);
        size_t len;
        uint8_t *data = read_all(path, &len);
        cb_status st = cb_verifier_feed(verifier, names[i], data, len);
        if (st != CB_OK) {
            char message[512];
            cb_last_error_message(message, sizeof message, NULL);
            printf("verify: %s: %s\n", cb_status_name(st), message);
        }
        free(data);
        free(path);
    }
    char *report;
    check(cb_verifier_report(verifier, &report), "verify report");
    printf("verify: %s\n", report);
    int ok = strstr(report, "\"ok\":true") != NULL;
    cb_string_free(report);
    free_names(names, n);
    free(dir);
    cb_verifier_free(verifier);
    cb_index_free(index);
    cb_vault_free(vault);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* restore                                                             */
/* ------------------------------------------------------------------ */

/* Refuses snapshot paths that could leave the target ("..", not absolute). */
static void check_path(const char *path) {
    if (path[0] != '/') die("refusing path %s: not absolute", path);
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        int starts = p[-1] == '/';
        int ends = p[2] == '/' || p[2] == 0;
        if (starts && ends) die("refusing path %s: it has ..", path);
    }
}

/* The newest snapshot of the vault (by its recorded time). */
static cb_snapshot *newest_snapshot(const char *vault_dir, cb_vault *vault, char *id_out) {
    char *dir = join(vault_dir, "snapshots");
    size_t n;
    char **names = list_dir(dir, &n);
    cb_snapshot *best = NULL;
    long long best_time = 0;
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) != 64) continue;
        char *path = join(dir, names[i]);
        size_t len;
        uint8_t *data = read_all(path, &len);
        cb_snapshot *snap;
        check(cb_snapshot_open(vault, names[i], data, len, &snap), path);
        char *json;
        check(cb_snapshot_json(snap, &json), "snapshot json");
        const char *t = strstr(json, "\"time\":");
        long long when = t ? strtoll(t + 7, NULL, 10) : 0;
        if (best == NULL || when >= best_time) {
            cb_snapshot_free(best);
            best = snap;
            best_time = when;
            memcpy(id_out, names[i], 65);
        } else {
            cb_snapshot_free(snap);
        }
        cb_string_free(json);
        free(data);
        free(path);
    }
    free_names(names, n);
    free(dir);
    if (best == NULL) die("%s: no snapshot", vault_dir);
    return best;
}

static void set_times(const char *path, int64_t mtime, int flags) {
    struct timespec times[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, {.tv_sec = (time_t)mtime}};
    if (utimensat(AT_FDCWD, path, times, flags) != 0) die("%s: %s", path, strerror(errno));
}

static int cmd_restore(const char *vault_dir, const char *target) {
    cb_vault *vault = open_vault(vault_dir, 0);
    size_t deltas;
    cb_index *index = load_index(vault_dir, vault, &deltas);
    char snapshot_id[65];
    cb_snapshot *snapshot = newest_snapshot(vault_dir, vault, snapshot_id);
    cb_restore_session *s;
    check(cb_restore_session_new(vault, snapshot, index, NULL, &s), "start restore");
    make_dir(target);

    /* 1. Create directories, symlinks and files at their final size. */
    size_t creates;
    check(cb_restore_session_create_count(s, &creates), "creates");
    for (size_t i = 0; i < creates; i++) {
        cb_create c;
        check(cb_restore_session_create_at(s, i, &c), "create");
        check_path(c.path);
        char *path = join(target, c.path);
        if (c.kind == CB_ENTRY_DIR) {
            make_dir(path);
        } else if (c.kind == CB_ENTRY_SYMLINK) {
            unlink(path);
            if (symlink(c.target, path) != 0) die("%s: %s", path, strerror(errno));
        } else {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || ftruncate(fd, (off_t)c.size) != 0) die("%s: %s", path, strerror(errno));
            close(fd);
        }
        free(path);
    }

    /* 2. Fetch each planned range, feed it, write what verifies. */
    size_t ranges, written = 0;
    check(cb_restore_session_range_count(s, &ranges), "ranges");
    for (size_t i = 0; i < ranges; i++) {
        cb_range r;
        check(cb_restore_session_range_at(s, i, &r), "range");
        char *dir = join(vault_dir, "bundles");
        char *bundle = join(dir, r.bundle_id);
        size_t got;
        uint8_t *data = read_range(bundle, r.offset, (size_t)r.length, &got);
        if (data == NULL) {
            /* The bundle cannot be fetched: its files fail, the rest goes on. */
            check(cb_restore_session_missing(s, r.bundle_id), "missing bundle");
        } else {
            /* A short read feeds fewer bytes: the session fails those files. */
            check(cb_restore_session_feed(s, r.bundle_id, r.offset, data, got), "feed");
            free(data);
        }
        free(bundle);
        free(dir);
        for (;;) {
            char *path;
            uint64_t offset;
            uint8_t *bytes;
            size_t len;
            check(cb_restore_session_take_write(s, &path, &offset, &bytes, &len), "take write");
            if (path == NULL) break;
            check_path(path);
            char *full = join(target, path);
            int fd = open(full, O_WRONLY | O_CLOEXEC);
            if (fd < 0) die("%s: %s", full, strerror(errno));
            size_t put = 0;
            while (put < len) {
                ssize_t n = pwrite(fd, bytes + put, len - put, (off_t)(offset + put));
                if (n < 0) die("%s: %s", full, strerror(errno));
                put += (size_t)n;
            }
            close(fd);
            written += len;
            free(full);
            cb_string_free(path);
            cb_bytes_free(bytes, len);
        }
    }

    /* 3. Modes and times, after the content; directories last, deepest first. */
    for (size_t k = creates; k-- > 0;) {
        cb_create c;
        check(cb_restore_session_create_at(s, k, &c), "create");
        char *path = join(target, c.path);
        if (c.kind == CB_ENTRY_SYMLINK) {
            set_times(path, c.mtime, AT_SYMLINK_NOFOLLOW);
        } else {
            if (chmod(path, (mode_t)c.mode) != 0) die("%s: %s", path, strerror(errno));
            set_times(path, c.mtime, 0);
        }
        free(path);
    }

    char *report;
    check(cb_restore_session_finish(s, &report), "finish restore");
    printf("restore: snapshot %.16s..., %zu things created, %zu ranges fetched, %zu bytes written\n",
           snapshot_id, creates, ranges, written);
    printf("restore: %s\n", report);
    int ok = strstr(report, "\"errors\":null") != NULL;
    cb_string_free(report);
    cb_restore_session_free(s);
    cb_snapshot_free(snapshot);
    cb_index_free(index);
    cb_vault_free(vault);
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* snapshots                                                           */
/* ------------------------------------------------------------------ */

/* Prints every snapshot as the core decodes it, for scripts (the interop
 * tests compare these listings across bindings). */
static int cmd_snapshots(const char *vault_dir) {
    cb_vault *vault = open_vault(vault_dir, 0);
    char *dir = join(vault_dir, "snapshots");
    size_t n;
    char **names = list_dir(dir, &n);
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) != 64) continue;
        char *path = join(dir, names[i]);
        size_t len;
        uint8_t *data = read_all(path, &len);
        cb_snapshot *snap;
        check(cb_snapshot_open(vault, names[i], data, len, &snap), path);
        char *json;
        check(cb_snapshot_json(snap, &json), "snapshot json");
        printf("{\"id\":\"%s\",\"snapshot\":%s}\n", names[i], json);
        cb_string_free(json);
        cb_snapshot_free(snap);
        free(data);
        free(path);
    }
    free_names(names, n);
    free(dir);
    cb_vault_free(vault);
    return 0;
}

/* ------------------------------------------------------------------ */
/* compare                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t files, dirs, symlinks, bytes;
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
            if (sa.st_mtime != sb.st_mtime) differ(c, "mtime", pa);
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
    printf("compare: identical: %zu files (%zu bytes), %zu dirs, %zu symlinks, modes and times\n",
           c.files, c.bytes, c.dirs, c.symlinks);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "backup") == 0) return cmd_backup(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "verify") == 0) return cmd_verify(argv[2]);
    if (argc == 4 && strcmp(argv[1], "restore") == 0) return cmd_restore(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "snapshots") == 0) return cmd_snapshots(argv[2]);
    if (argc == 4 && strcmp(argv[1], "compare") == 0) return cmd_compare(argv[2], argv[3]);
    fprintf(stderr,
            "usage: %s backup SOURCE VAULT | verify VAULT | restore VAULT TARGET | snapshots VAULT | compare A B\n"
            "       (password in $CLOUDBACKUP_PASSWORD; libcloudbackup %s)\n",
            argv[0], cb_version());
    return 2;
}
