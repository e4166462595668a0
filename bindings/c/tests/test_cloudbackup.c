/*
 * Tests of libcloudbackup through its C API, with the Check library.
 *
 * Built twice (linked against libcloudbackup.a and libcloudbackup.so) and
 * run by CTest, plainly and under valgrind. Every exported function is
 * called with good input and with bad input (NULL handles and buffers,
 * zero lengths, invalid JSON and UTF-8, wrong passwords, tampered bundles),
 * and every call's status is asserted exactly.
 *
 * Fixtures are the repository's shared ones: the golden vault
 * (tests/golden/v1), the service's samples (tests/data/rackspace) and the
 * tamper matrix's vault and plan (tests/data/tamper).
 */
#define _DEFAULT_SOURCE
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudbackup.h"

#ifndef CB_GOLDEN_DIR
#error "CB_GOLDEN_DIR must name tests/golden/v1"
#endif
#ifndef CB_SAMPLES_DIR
#error "CB_SAMPLES_DIR must name tests/data/rackspace"
#endif
#ifndef CB_TAMPER_DIR
#error "CB_TAMPER_DIR must name tests/data/tamper"
#endif

/* The cheapest Argon2 parameters: tests only, never for real passwords. */
static const char *const TEST_KDF = "{\"memory_kib\": 8, \"iterations\": 1, \"parallelism\": 1}";
/* Small chunks and bundles, so a few hundred KiB make several bundles. */
static const char *const SMALL_SETTINGS =
    "{\"chunker\": {\"min_size\": 1024, \"avg_size\": 4096, \"max_size\": 16384},"
    " \"zstd_level\": 3, \"bundle_size\": 65536}";

/* A pointer value that is never returned by the library: out-parameters
 * are set to it before a call to prove the call resets them. */
#define POISON ((void *)0x1)

/* The last error message of this thread. */
static const char *last_error(void) {
    static char buf[4096];
    if (cb_last_error_message(buf, sizeof buf, NULL) != CB_OK) {
        /* truncated: still NUL-terminated */
    }
    return buf;
}

/* Asserts that `expr` returns exactly the status `expected`. */
#define ASSERT_STATUS(expected, expr)                                                     \
    do {                                                                                  \
        cb_status st_ = (expr);                                                           \
        ck_assert_msg(st_ == (expected), "%s:\n  returned %s, expected %s (message: %s)", \
                      #expr, cb_status_name(st_), cb_status_name(expected), last_error()); \
    } while (0)

#define ASSERT_OK(expr) ASSERT_STATUS(CB_OK, expr)

/* Asserts that the last error message contains `needle`. */
#define ASSERT_MESSAGE_HAS(needle)                                                  \
    ck_assert_msg(strstr(last_error(), (needle)) != NULL, "message %s lacks %s", \
                  last_error(), (needle))

/* Asserts that a JSON string returned by the library contains `needle`. */
#define ASSERT_HAS(json, needle) \
    ck_assert_msg(strstr((json), (needle)) != NULL, "%s lacks %s", (json), (needle))

static const uint8_t *u8(const char *s) { return (const uint8_t *)s; }

/* Reads a whole file; the caller frees it. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    uint8_t *data = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    data[size] = 0; /* so text files are also C strings */
    *len = (size_t)size;
    return data;
}

static char *sample(const char *version_dir, const char *name) {
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s/%s", CB_SAMPLES_DIR, version_dir, name);
    return (char *)read_file(path, &len);
}

/* ------------------------------------------------------------------ */
/* The golden vault                                                    */
/* ------------------------------------------------------------------ */

#define MAX_OBJECTS 8

typedef struct {
    char id[65];
    uint8_t *data;
    size_t len;
} object;

typedef struct {
    cb_vault *vault;
    cb_index *index;
    cb_snapshot *snapshot;
    object bundles[MAX_OBJECTS];
    size_t n_bundles;
    object index_delta;
    object snapshot_object;
} golden;

/* Reads every object of `golden/vault/<sub>` into `out`. */
static size_t read_objects(const char *sub, object *out, size_t max) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vault/%s", CB_GOLDEN_DIR, sub);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        ck_assert_uint_lt(n, max);
        ck_assert_uint_eq(strlen(e->d_name), 64);
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        memcpy(out[n].id, e->d_name, 65);
        out[n].data = read_file(path, &out[n].len);
        n++;
    }
    closedir(d);
    return n;
}

static uint8_t *golden_password(size_t *len) {
    return read_file(CB_GOLDEN_DIR "/PASSWORD", len);
}

static cb_vault *open_golden_vault(void) {
    size_t config_len, password_len;
    uint8_t *config = read_file(CB_GOLDEN_DIR "/vault/config", &config_len);
    uint8_t *password = golden_password(&password_len);
    cb_vault *vault = POISON;
    ASSERT_OK(cb_vault_open(config, config_len, password, password_len, &vault));
    ck_assert_ptr_nonnull(vault);
    free(config);
    free(password);
    return vault;
}

static void golden_load(golden *g) {
    memset(g, 0, sizeof *g);
    g->vault = open_golden_vault();
    ck_assert_uint_eq(read_objects("index", &g->index_delta, 1), 1);
    ck_assert_uint_eq(read_objects("snapshots", &g->snapshot_object, 1), 1);
    g->n_bundles = read_objects("bundles", g->bundles, MAX_OBJECTS);
    ck_assert_uint_eq(g->n_bundles, 2);
    ASSERT_OK(cb_index_new(&g->index));
    ASSERT_OK(cb_index_load_delta(g->index, g->vault, g->index_delta.id, g->index_delta.data,
                                  g->index_delta.len));
    ASSERT_OK(cb_snapshot_open(g->vault, g->snapshot_object.id, g->snapshot_object.data,
                               g->snapshot_object.len, &g->snapshot));
}

static void golden_free(golden *g) {
    cb_snapshot_free(g->snapshot);
    cb_index_free(g->index);
    cb_vault_free(g->vault);
    for (size_t i = 0; i < g->n_bundles; i++) free(g->bundles[i].data);
    free(g->index_delta.data);
    free(g->snapshot_object.data);
}

static const object *golden_bundle(const golden *g, const char *id) {
    for (size_t i = 0; i < g->n_bundles; i++)
        if (strcmp(g->bundles[i].id, id) == 0) return &g->bundles[i];
    ck_abort_msg("bundle %s is not in the golden vault", id);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Restoring into memory                                               */
/* ------------------------------------------------------------------ */

#define MAX_FILES 64

typedef struct {
    char *path;
    uint8_t *data;
    size_t size;
} mem_file;

typedef struct {
    mem_file files[MAX_FILES];
    size_t n_files;
    size_t n_dirs, n_symlinks;
    size_t writes;
} mem_tree;

static mem_file *mem_find(mem_tree *t, const char *path) {
    for (size_t i = 0; i < t->n_files; i++)
        if (strcmp(t->files[i].path, path) == 0) return &t->files[i];
    return NULL;
}

static void mem_free(mem_tree *t) {
    for (size_t i = 0; i < t->n_files; i++) {
        free(t->files[i].path);
        free(t->files[i].data);
    }
    memset(t, 0, sizeof *t);
}

/* Creates what the session lists, in memory. */
static void mem_create(cb_restore_session *s, mem_tree *t) {
    size_t count = 99;
    ASSERT_OK(cb_restore_session_create_count(s, &count));
    for (size_t i = 0; i < count; i++) {
        cb_create c;
        ASSERT_OK(cb_restore_session_create_at(s, i, &c));
        ck_assert_ptr_nonnull(c.path);
        switch (c.kind) {
        case CB_ENTRY_FILE:
            ck_assert_uint_lt(t->n_files, MAX_FILES);
            ck_assert_ptr_null(c.target);
            t->files[t->n_files].path = strdup(c.path);
            t->files[t->n_files].size = (size_t)c.size;
            t->files[t->n_files].data = calloc(1, (size_t)c.size + 1);
            memset(t->files[t->n_files].data, 0xEE, (size_t)c.size);
            t->n_files++;
            break;
        case CB_ENTRY_DIR:
            ck_assert_ptr_null(c.target);
            t->n_dirs++;
            break;
        case CB_ENTRY_SYMLINK:
            ck_assert_ptr_nonnull(c.target);
            t->n_symlinks++;
            break;
        default:
            ck_abort_msg("unknown kind %d", (int)c.kind);
        }
    }
}

/* Takes every pending write into the tree. */
static void mem_take_writes(cb_restore_session *s, mem_tree *t) {
    for (;;) {
        char *path = POISON;
        uint64_t offset = 7;
        uint8_t *data = POISON;
        size_t len = 7;
        ASSERT_OK(cb_restore_session_take_write(s, &path, &offset, &data, &len));
        if (path == NULL) {
            ck_assert_ptr_null(data);
            ck_assert_uint_eq(len, 0);
            ck_assert_uint_eq(offset, 0);
            return;
        }
        mem_file *f = mem_find(t, path);
        ck_assert_msg(f != NULL, "write to %s, which was not created", path);
        ck_assert_uint_le(offset + len, f->size);
        memcpy(f->data + offset, data, len);
        t->writes++;
        cb_string_free(path);
        cb_bytes_free(data, len);
    }
}

/* Feeds every planned range from `bundles` (NULL ids are "missing"). */
static void mem_feed_all(cb_restore_session *s, mem_tree *t, const object *bundles,
                         size_t n_bundles) {
    size_t ranges = 0;
    ASSERT_OK(cb_restore_session_range_count(s, &ranges));
    for (size_t i = 0; i < ranges; i++) {
        cb_range r;
        ASSERT_OK(cb_restore_session_range_at(s, i, &r));
        const object *b = NULL;
        for (size_t k = 0; k < n_bundles; k++)
            if (strcmp(bundles[k].id, r.bundle_id) == 0) b = &bundles[k];
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_le(r.offset + r.length, b->len);
        ASSERT_OK(cb_restore_session_feed(s, r.bundle_id, r.offset, b->data + r.offset,
                                          (size_t)r.length));
        mem_take_writes(s, t);
    }
}

/* Asserts that the restored file `path` equals golden/expected/<path>. */
static void assert_expected(mem_tree *t, const char *path) {
    char full[1024];
    size_t len;
    snprintf(full, sizeof full, "%s/expected%s", CB_GOLDEN_DIR, path);
    uint8_t *expected = read_file(full, &len);
    mem_file *f = mem_find(t, path);
    ck_assert_msg(f != NULL, "%s was not restored", path);
    ck_assert_uint_eq(f->size, len);
    ck_assert_msg(memcmp(f->data, expected, len) == 0, "%s differs", path);
    free(expected);
}

/* ------------------------------------------------------------------ */
/* The boundary: statuses, messages, freeing, panics                   */
/* ------------------------------------------------------------------ */

START_TEST(version_is_a_static_string) {
    const char *v = cb_version();
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "0.1.0");
    ck_assert_ptr_eq(cb_version(), v);
}
END_TEST

START_TEST(version_macros_match_the_library) {
    /* The header these tests were compiled against is the library's. */
    ck_assert_str_eq(cb_version(), CB_VERSION_STRING);
    char composed[64];
    snprintf(composed, sizeof composed, "%d.%d.%d", CB_VERSION_MAJOR, CB_VERSION_MINOR,
             CB_VERSION_PATCH);
    ck_assert_str_eq(composed, CB_VERSION_STRING);
#if CB_VERSION_MAJOR == 0 && CB_VERSION_MINOR < 1
#error "the version macros are usable in #if"
#endif
}
END_TEST

START_TEST(status_names_are_distinct_and_total) {
    static const cb_status all[] = {
        CB_OK,           CB_INVALID_JSON,        CB_INVALID_VALUE,   CB_INVALID_ARGUMENT,
        CB_API,          CB_UNEXPECTED_RESPONSE, CB_TRANSITION,      CB_PATCH_REJECTED,
        CB_PATCH_CONFLICT, CB_PATCH_FORBIDDEN,   CB_WRONG_PASSWORD,  CB_CORRUPT,
        CB_FOREIGN_VAULT, CB_UNSUPPORTED_VERSION, CB_NOT_FOUND,      CB_LOCKED,
        CB_OTHER_ERROR,  CB_NULL_ARGUMENT,       CB_INVALID_UTF8,    CB_BUFFER_TOO_SMALL,
        CB_INVALID_STATE, CB_PANIC,
    };
    size_t n = sizeof all / sizeof all[0];
    ck_assert_int_eq(CB_OK, 0);
    for (size_t i = 0; i < n; i++) {
        const char *name = cb_status_name((int)all[i]);
        ck_assert_msg(strncmp(name, "CB_", 3) == 0, "%s", name);
        ck_assert_str_ne(name, "CB_UNKNOWN_STATUS");
        for (size_t k = i + 1; k < n; k++) {
            ck_assert_int_ne(all[i], all[k]);
            ck_assert_str_ne(name, cb_status_name((int)all[k]));
        }
    }
    ck_assert_str_eq(cb_status_name(CB_WRONG_PASSWORD), "CB_WRONG_PASSWORD");
    ck_assert_str_eq(cb_status_name(-1), "CB_UNKNOWN_STATUS");
    ck_assert_str_eq(cb_status_name(15), "CB_LOCKED");
    ck_assert_str_eq(cb_status_name(16), "CB_INVALID_STATE");
    ck_assert_str_eq(cb_status_name(17), "CB_UNKNOWN_STATUS");
    /* The core's classes keep to 1-99, the boundary's own to 100 and up;
     * 103 (CB_INVALID_STATE before the first release) is never reused. */
    ck_assert_int_lt(CB_INVALID_STATE, 100);
    ck_assert_int_lt(CB_OTHER_ERROR, 100);
    ck_assert_int_ge(CB_NULL_ARGUMENT, 100);
    ck_assert_str_eq(cb_status_name(103), "CB_UNKNOWN_STATUS");
    ck_assert_str_eq(cb_status_name(1000000), "CB_UNKNOWN_STATUS");
}
END_TEST

START_TEST(last_error_message_fills_the_callers_buffer) {
    char buf[256];
    size_t needed = 0;
    /* A failure records a message naming the argument. */
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_model_types(NULL));
    ASSERT_OK(cb_last_error_message(buf, sizeof buf, &needed));
    ck_assert_str_eq(buf, "argument `out_json` is NULL");
    ck_assert_uint_eq(needed, strlen(buf) + 1);
    /* Reading it does not change it. */
    ASSERT_OK(cb_last_error_message(buf, sizeof buf, NULL));
    ck_assert_str_eq(buf, "argument `out_json` is NULL");
    /* Too small: truncated, NUL-terminated, the full size reported. */
    memset(buf, 'x', sizeof buf);
    ASSERT_STATUS(CB_BUFFER_TOO_SMALL, cb_last_error_message(buf, 5, &needed));
    ck_assert_str_eq(buf, "argu");
    ck_assert_uint_eq(needed, strlen("argument `out_json` is NULL") + 1);
    ck_assert_int_eq(buf[5], 'x');
    /* A one-byte buffer holds only the NUL. */
    ASSERT_STATUS(CB_BUFFER_TOO_SMALL, cb_last_error_message(buf, 1, NULL));
    ck_assert_str_eq(buf, "");
    /* Size query: no buffer, length 0. */
    needed = 0;
    ASSERT_STATUS(CB_BUFFER_TOO_SMALL, cb_last_error_message(NULL, 0, &needed));
    ck_assert_uint_eq(needed, strlen("argument `out_json` is NULL") + 1);
    /* NULL buffer with a length is refused. */
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_last_error_message(NULL, 10, &needed));
    /* A success clears it. */
    char *json = NULL;
    ASSERT_OK(cb_model_types(&json));
    cb_string_free(json);
    ASSERT_OK(cb_last_error_message(buf, sizeof buf, &needed));
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(needed, 1);
}
END_TEST

/* Whether `s` ends in a complete UTF-8 sequence. */
static int utf8_complete(const char *s) {
    size_t n = strlen(s);
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
    if (i == 0) return n == 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return n - (i - 1) == want;
}

START_TEST(truncation_never_splits_a_character) {
    char *json = POISON;
    /* The message quotes the unknown name, accents included. */
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_model_parse("é€", u8("{}"), 2, &json));
    ck_assert_ptr_null(json);
    size_t needed = 0;
    cb_last_error_message(NULL, 0, &needed);
    ck_assert_uint_gt(needed, 10);
    char *buf = malloc(needed);
    for (size_t len = 1; len <= needed; len++) {
        cb_status st = cb_last_error_message(buf, len, NULL);
        ck_assert_int_eq(st, len == needed ? CB_OK : CB_BUFFER_TOO_SMALL);
        ck_assert_uint_lt(strlen(buf), len);
        ck_assert_msg(utf8_complete(buf), "cut inside a character at %zu: %s", len, buf);
    }
    ASSERT_HAS(buf, "é€");
    free(buf);
}
END_TEST

START_TEST(freeing_null_is_a_no_op) {
    cb_string_free(NULL);
    cb_bytes_free(NULL, 0);
    cb_bytes_free(NULL, 12);
    cb_vault_free(NULL);
    cb_index_free(NULL);
    cb_snapshot_free(NULL);
    cb_restore_session_free(NULL);
    cb_verifier_free(NULL);
}
END_TEST

START_TEST(a_panic_is_a_status_not_an_abort) {
    ASSERT_STATUS(CB_PANIC, cb_test_panic());
    ASSERT_MESSAGE_HAS("panic inside libcloudbackup");
    ASSERT_MESSAGE_HAS("cb_test_panic was called");
    /* The library goes on working. */
    char *json = NULL;
    ASSERT_OK(cb_model_types(&json));
    cb_string_free(json);
    ASSERT_STATUS(CB_PANIC, cb_test_panic());
}
END_TEST

/* ------------------------------------------------------------------ */
/* Model                                                               */
/* ------------------------------------------------------------------ */

START_TEST(model_types_are_listed) {
    char *json = POISON;
    ASSERT_OK(cb_model_types(&json));
    ASSERT_HAS(json, "\"v1.Agent\"");
    ASSERT_HAS(json, "\"v2.Restore\"");
    ck_assert_int_eq(json[0], '[');
    cb_string_free(json);
}
END_TEST

START_TEST(model_parse_normalises_a_sample) {
    char *body = sample("samples-v2", "cbu-getRestoreDetails_response.json");
    char *json = POISON;
    ASSERT_OK(cb_model_parse("v2.Restore", u8(body), strlen(body), &json));
    ASSERT_HAS(json, "\"id\":\"e87e6f7d-d166-11e4-8689-c8e0eb190e3d\"");
    ASSERT_HAS(json, "\"destination_path\":\"/tmp/restore\"");
    /* The normal form parses again to itself. */
    char *again = NULL;
    ASSERT_OK(cb_model_parse("v2.Restore", u8(json), strlen(json), &again));
    ck_assert_str_eq(again, json);
    cb_string_free(again);
    cb_string_free(json);
    free(body);
    /* A list type. */
    ASSERT_OK(cb_model_parse("v1.Agent[]", u8("[]"), 2, &json));
    ck_assert_str_eq(json, "[]");
    cb_string_free(json);
    /* The reference table's spelling of a member is read. */
    const char *start = "{\"backup_id\": \"b1\", \"destination_agent_ID\": \"a1\","
                        " \"destination_path\": \"/tmp/r\", \"overwrite_files\": false,"
                        " \"encrypted_password_hex\": null,"
                        " \"inclusions\": [{\"type\": \"file\", \"path\": \"/etc/hosts\"}],"
                        " \"exclusions\": []}";
    ASSERT_OK(cb_model_parse("v2.StartRestoreBody", u8(start), strlen(start), &json));
    ASSERT_HAS(json, "\"destination_agent_id\":\"a1\"");
    cb_string_free(json);
}
END_TEST

START_TEST(model_parse_refuses_bad_input) {
    char *json = POISON;
    /* The sample the reference wrote with single quotes is not JSON. */
    char *bad = sample("samples-v1", "getUserAgents_response.json");
    ASSERT_STATUS(CB_INVALID_JSON, cb_model_parse("v1.Agent[]", u8(bad), strlen(bad), &json));
    ck_assert_ptr_null(json);
    free(bad);
    json = POISON;
    ASSERT_STATUS(CB_INVALID_JSON, cb_model_parse("v2.Restore", u8("{\"id\": 7}"), 9, &json));
    ck_assert_ptr_null(json);
    ASSERT_MESSAGE_HAS("v2.Restore");
    /* Zero length: no JSON at all. */
    ASSERT_STATUS(CB_INVALID_JSON, cb_model_parse("v2.Restore", NULL, 0, &json));
    ASSERT_STATUS(CB_INVALID_JSON, cb_model_parse("v2.Restore", u8("{}"), 0, &json));
    /* NULL buffer with a length. */
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_model_parse("v2.Restore", NULL, 5, &json));
    ASSERT_MESSAGE_HAS("`json`");
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_model_parse(NULL, u8("{}"), 2, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_model_parse("v2.Restore", u8("{}"), 2, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_model_parse("v2.\xff", u8("{}"), 2, &json));
    ASSERT_MESSAGE_HAS("`type_name` is not UTF-8");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_model_parse("v2.Restores", u8("{}"), 2, &json));
    ASSERT_MESSAGE_HAS("v2.Restore");
    /* An absurd length is refused before it is read. */
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_model_parse("v2.Restore", u8("{}"), SIZE_MAX, &json));
    ck_assert_ptr_null(json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Requests and responses                                              */
/* ------------------------------------------------------------------ */

START_TEST(operations_are_listed) {
    char *json = POISON;
    ASSERT_OK(cb_operations(&json));
    ASSERT_HAS(json, "\"name\":\"v2.restores.get_restore\"");
    ASSERT_HAS(json, "\"path\":\"/v2/{project_id}/restores/{restore_id}\"");
    cb_string_free(json);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_operations(NULL));
}
END_TEST

START_TEST(requests_are_built_by_name) {
    char *json = POISON;
    ASSERT_OK(cb_build_request("v2.restores.get_restore", "{\"restore_id\": \"e87e6f7d\"}",
                               "tok", "123456", &json));
    ASSERT_HAS(json, "\"method\":\"GET\"");
    ASSERT_HAS(json, "\"path\":\"/v2/123456/restores/e87e6f7d\"");
    ASSERT_HAS(json, "[\"X-Auth-Token\",\"tok\"]");
    ASSERT_HAS(json, "\"body\":null");
    cb_string_free(json);
    /* A body travels as text. */
    char *body = sample("samples-v2", "cbu-postRestore_request.json");
    char params[8192];
    snprintf(params, sizeof params, "{\"body\": %s}", body);
    ASSERT_OK(cb_build_request("v2.restores.start_restore", params, "tok", "123456", &json));
    ASSERT_HAS(json, "\"method\":\"POST\"");
    ASSERT_HAS(json, "\"path\":\"/v2/123456/restores\"");
    ASSERT_HAS(json, "\\\"backup_id\\\"");
    cb_string_free(json);
    free(body);
}
END_TEST

START_TEST(request_building_refuses_bad_input) {
    char *json = POISON;
    const char *op = "v2.restores.get_restore";
    const char *p = "{\"restore_id\": \"e87e6f7d\"}";
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_build_request("v2.restores.get_restor", p, "t", "1", &json));
    ASSERT_MESSAGE_HAS("did you mean v2.restores.get_restore");
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_INVALID_JSON, cb_build_request(op, "{restore_id: 1}", "t", "1", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_build_request(op, "{\"restore_id\": 7}", "t", "1", &json));
    ASSERT_MESSAGE_HAS("params.restore_id");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_build_request(op, NULL, "t", "1", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_build_request(op, "[]", "t", "1", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_build_request(op, p, "", "1", &json));
    ASSERT_MESSAGE_HAS("token");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_build_request(op, p, "t", "", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_build_request(NULL, p, "t", "1", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_build_request(op, p, NULL, "1", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_build_request(op, p, "t", NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_build_request(op, p, "t", "1", NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_build_request(op, p, "t\xc3", "1", &json));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_build_request(op, "{\"restore_id\": \"\xe2\x82\"}", "t", "1", &json));
    ck_assert_ptr_null(json);
}
END_TEST

START_TEST(responses_are_parsed_by_name) {
    const char *op = "v2.restores.get_restore";
    const char *p = "{\"restore_id\": \"e87e6f7d-d166-11e4-8689-c8e0eb190e3d\"}";
    char *body = sample("samples-v2", "cbu-getRestoreDetails_response.json");
    char *json = POISON;
    ASSERT_OK(cb_parse_response(op, p, 200, "[[\"Content-Type\", \"application/json\"]]", u8(body),
                                strlen(body), &json));
    ASSERT_HAS(json, "\"destination_path\":\"/tmp/restore\"");
    cb_string_free(json);
    free(body);
    /* An error status is the service's error, with its message. */
    const char *missing = "{\"message\": \"Restore not found.\"}";
    ASSERT_STATUS(CB_API, cb_parse_response(op, p, 404, NULL, u8(missing), strlen(missing), &json));
    ck_assert_ptr_null(json);
    ASSERT_MESSAGE_HAS("Restore not found.");
    ASSERT_MESSAGE_HAS("404");
    ASSERT_STATUS(CB_API, cb_parse_response(op, p, 503, "[[\"Retry-After\", \"30\"]]", NULL, 0, &json));
    ASSERT_MESSAGE_HAS("retry after 30 s");
    /* "No content" is null. */
    ASSERT_OK(cb_parse_response("v2.agents.delete_agent", "{\"agent_id\": \"a1\"}", 204, NULL, NULL, 0,
                                &json));
    ck_assert_str_eq(json, "null");
    cb_string_free(json);
}
END_TEST

START_TEST(response_parsing_refuses_bad_input) {
    const char *op = "v2.restores.get_restore";
    const char *p = "{\"restore_id\": \"r1\"}";
    char *json = POISON;
    ASSERT_STATUS(CB_UNEXPECTED_RESPONSE, cb_parse_response(op, p, 302, NULL, NULL, 0, &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_INVALID_JSON, cb_parse_response(op, p, 200, NULL, u8("{'id': 1}"), 9, &json));
    ASSERT_STATUS(CB_INVALID_JSON, cb_parse_response(op, p, 200, NULL, NULL, 0, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_parse_response(op, p, 42, NULL, NULL, 0, &json));
    ASSERT_MESSAGE_HAS("response.status");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_parse_response(op, p, -200, NULL, NULL, 0, &json));
    ASSERT_STATUS(CB_INVALID_JSON, cb_parse_response(op, p, 200, "[[", NULL, 0, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_parse_response(op, p, 200, "[[\"a\"]]", NULL, 0, &json));
    ASSERT_MESSAGE_HAS("response.headers");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_parse_response("nope", p, 200, NULL, NULL, 0, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_parse_response(op, "{}", 200, NULL, NULL, 0, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_parse_response(op, p, 200, NULL, NULL, 3, &json));
    ASSERT_MESSAGE_HAS("`body`");
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_parse_response(NULL, p, 200, NULL, NULL, 0, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_parse_response(op, p, 200, NULL, NULL, 0, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_parse_response(op, p, 200, "[[\"\xff\", \"x\"]]", NULL, 0, &json));
    ck_assert_ptr_null(json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Lifecycle and patches                                               */
/* ------------------------------------------------------------------ */

START_TEST(lifecycle_transitions_by_name) {
    char *json = POISON;
    ASSERT_OK(cb_lifecycle_transition("restore", "queued", "in_progress", "agent", &json));
    ck_assert_str_eq(json, "{\"changed\":true,\"state\":\"in_progress\"}");
    cb_string_free(json);
    ASSERT_OK(cb_lifecycle_transition("backup", "InProgress", "InProgress", "agent", &json));
    ck_assert_str_eq(json, "{\"changed\":false,\"state\":\"in_progress\"}");
    cb_string_free(json);
    json = POISON;
    ASSERT_STATUS(CB_TRANSITION, cb_lifecycle_transition("restore", "completed", "failed", "agent", &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_TRANSITION, cb_lifecycle_transition("backup", "queued", "completed", "user", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_transition("restores", "queued", "queued", "user", &json));
    ASSERT_MESSAGE_HAS("restore, backup, cleanup, logfile");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_transition("restore", "running", "queued", "user", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_transition("restore", "queued", "queued", "robot", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_transition(NULL, "queued", "queued", "user", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_transition("restore", NULL, "queued", "user", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_transition("restore", "queued", NULL, "user", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_transition("restore", "queued", "queued", NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_transition("restore", "queued", "queued", "user", NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_lifecycle_transition("restore", "\x80", "queued", "user", &json));
    ck_assert_ptr_null(json);
}
END_TEST

START_TEST(lifecycle_allowed_actions_and_targets) {
    char *json = POISON;
    ASSERT_OK(cb_lifecycle_allowed_actions("restore", "Creating", &json));
    ck_assert_str_eq(json, "[\"start\",\"stop\"]");
    cb_string_free(json);
    ASSERT_OK(cb_lifecycle_allowed_actions("restore", "completed", &json));
    ck_assert_str_eq(json, "[]");
    cb_string_free(json);
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_allowed_actions("vault", "queued", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_allowed_actions("logfile", "queued", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_actions(NULL, "queued", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_actions("restore", NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_actions("restore", "queued", NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_lifecycle_allowed_actions("restore\xfe", "queued", &json));

    ASSERT_OK(cb_lifecycle_allowed_targets("restore", "queued", "agent", &json));
    ASSERT_HAS(json, "\"in_progress\"");
    cb_string_free(json);
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_allowed_targets("backup", "queued", "", &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_lifecycle_allowed_targets("backup", "", "user", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_targets(NULL, "queued", "user", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_targets("backup", NULL, "user", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_targets("backup", "queued", NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_lifecycle_allowed_targets("backup", "queued", "user", NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_lifecycle_allowed_targets("backup", "queued", "\xc0", &json));
    ck_assert_ptr_null(json);
}
END_TEST

static const char *const RESTORE_IN_PROGRESS =
    "{\"id\": \"e87e6f7d\", \"state\": \"in_progress\", \"started_time\": null,"
    " \"ended_time\": null, \"errors\": null, \"files_restored\": 0, \"bytes_restored\": 0}";
static const char *const RESTORE_COMPLETED =
    "{\"id\": \"e87e6f7d\", \"state\": \"completed\", \"started_time\": null,"
    " \"ended_time\": null, \"errors\": null, \"files_restored\": 0, \"bytes_restored\": 0}";
static const char *const AGENT =
    "{\"enabled\": false, \"log_level\": \"info\", \"vault\": {\"region\": \"DFW\", \"use_internal\": false}}";

START_TEST(patches_are_validated_per_endpoint) {
    char *patch = sample("samples-v2", "cbu-updateRestore_request.json");
    size_t plen = strlen(patch);
    char *json = POISON;
    ASSERT_OK(cb_patch_validate("restore", u8(RESTORE_IN_PROGRESS), strlen(RESTORE_IN_PROGRESS),
                                u8(patch), plen, "agent", -1, &json));
    ASSERT_HAS(json, "\"state\":\"completed_with_errors\"");
    ASSERT_HAS(json, "\"path\":\"/usr/bin/h2xs\"");
    cb_string_free(json);
    /* 409: the restore has ended. */
    json = POISON;
    ASSERT_STATUS(CB_PATCH_CONFLICT,
                  cb_patch_validate("restore", u8(RESTORE_COMPLETED), strlen(RESTORE_COMPLETED),
                                    u8(patch), plen, "agent", -1, &json));
    ck_assert_ptr_null(json);
    free(patch);
    /* 403: the region of a vault that may hold data. */
    const char *region = "[{\"op\": \"replace\", \"path\": \"/vault/region\", \"value\": \"ORD\"}]";
    ASSERT_STATUS(CB_PATCH_FORBIDDEN, cb_patch_validate("agent", u8(AGENT), strlen(AGENT), u8(region),
                                                        strlen(region), "user", 0, &json));
    ASSERT_STATUS(CB_PATCH_FORBIDDEN, cb_patch_validate("agent", u8(AGENT), strlen(AGENT), u8(region),
                                                        strlen(region), "user", -1, &json));
    ASSERT_OK(cb_patch_validate("agent", u8(AGENT), strlen(AGENT), u8(region), strlen(region),
                                "user", 1, &json));
    ASSERT_HAS(json, "\"region\":\"ORD\"");
    cb_string_free(json);
    /* 400: not a patch, or not allowed. */
    const char *object = "{\"op\": \"replace\"}";
    ASSERT_STATUS(CB_PATCH_REJECTED, cb_patch_validate("agent", u8(AGENT), strlen(AGENT), u8(object),
                                                       strlen(object), "user", -1, &json));
    const char *mars = "[{\"op\": \"replace\", \"path\": \"/vault/region\", \"value\": \"MARS\"}]";
    ASSERT_STATUS(CB_PATCH_REJECTED, cb_patch_validate("agent", u8(AGENT), strlen(AGENT), u8(mars),
                                                       strlen(mars), "user", 1, &json));
    ASSERT_MESSAGE_HAS("MARS");
    ck_assert_ptr_null(json);
}
END_TEST

START_TEST(patch_validation_refuses_bad_input) {
    const char *patch = "[]";
    const char *r = RESTORE_IN_PROGRESS;
    size_t rl = strlen(r);
    char *json = POISON;
    ASSERT_STATUS(CB_INVALID_JSON, cb_patch_validate("restore", u8("{"), 1, u8(patch), 2, "agent", -1, &json));
    ASSERT_STATUS(CB_INVALID_JSON, cb_patch_validate("restore", u8(r), rl, u8("[{]"), 3, "agent", -1, &json));
    ASSERT_STATUS(CB_INVALID_JSON, cb_patch_validate("restore", NULL, 0, u8(patch), 2, "agent", -1, &json));
    ASSERT_STATUS(CB_INVALID_JSON, cb_patch_validate("restore", u8(r), rl, NULL, 0, "agent", -1, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_patch_validate("vault", u8(r), rl, u8(patch), 2, "agent", -1, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_patch_validate("restore", u8(r), rl, u8(patch), 2, "root", -1, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_patch_validate("restore", u8(r), rl, u8(patch), 2, "agent", 2, &json));
    ASSERT_MESSAGE_HAS("vault_empty");
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_patch_validate(NULL, u8(r), rl, u8(patch), 2, "agent", -1, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_patch_validate("restore", NULL, rl, u8(patch), 2, "agent", -1, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_patch_validate("restore", u8(r), rl, NULL, 2, "agent", -1, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_patch_validate("restore", u8(r), rl, u8(patch), 2, NULL, -1, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_patch_validate("restore", u8(r), rl, u8(patch), 2, "agent", -1, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_patch_validate("rest\xffore", u8(r), rl, u8(patch), 2, "agent", -1, &json));
    ck_assert_ptr_null(json);
    /* A patch without operations is refused like any other bad patch. */
    ASSERT_STATUS(CB_PATCH_REJECTED, cb_patch_validate("restore", u8(r), rl, u8(patch), 2, "agent", -1, &json));
    ASSERT_MESSAGE_HAS("no operations");
    ck_assert_ptr_null(json);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Vaults and keys                                                     */
/* ------------------------------------------------------------------ */

static cb_vault *new_test_vault(const char *password) {
    cb_vault *vault = POISON;
    ASSERT_OK(cb_vault_create(u8(password), strlen(password), SMALL_SETTINGS, TEST_KDF, &vault));
    ck_assert_ptr_nonnull(vault);
    return vault;
}

START_TEST(vaults_are_created_stored_and_opened) {
    cb_vault *vault = new_test_vault("correct horse");
    uint8_t *config = POISON;
    size_t len = 7;
    ASSERT_OK(cb_vault_config(vault, &config, &len));
    ck_assert_uint_gt(len, 22);
    ck_assert_int_eq(memcmp(config, "CBCF", 4), 0);
    char *info = NULL, *info2 = NULL;
    ASSERT_OK(cb_vault_info(vault, &info));
    ASSERT_HAS(info, "\"key_slots\":1");
    ASSERT_HAS(info, "\"bundle_size\":65536");
    ASSERT_HAS(info, "\"vault_id\":\"");

    cb_vault *opened = POISON;
    ASSERT_OK(cb_vault_open(config, len, u8("correct horse"), 13, &opened));
    ASSERT_OK(cb_vault_info(opened, &info2));
    ck_assert_str_eq(info, info2);
    cb_string_free(info2);
    cb_vault_free(opened);

    opened = POISON;
    ASSERT_STATUS(CB_WRONG_PASSWORD, cb_vault_open(config, len, u8("battery staple"), 14, &opened));
    ck_assert_ptr_null(opened);
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_vault_open(config, len, NULL, 0, &opened));
    /* A tampered config does not open. */
    /* One byte more, NUL, so strstr stays inside the buffer (ASan found it reading past). */
    uint8_t *tampered = malloc(len + 1);
    memcpy(tampered, config, len);
    tampered[len] = 0;
    char *mac = strstr((char *)tampered + 22, "\"mac\"");
    ck_assert_ptr_nonnull(mac);
    char *digit = strchr(mac + 6, '"') + 1;
    *digit = *digit == '0' ? '1' : '0';
    ASSERT_STATUS(CB_CORRUPT, cb_vault_open(tampered, len, u8("correct horse"), 13, &opened));
    ck_assert_ptr_null(opened);
    free(tampered);
    /* Not a config at all. */
    ASSERT_STATUS(CB_CORRUPT, cb_vault_open(u8("hello"), 5, u8("pw"), 2, &opened));
    ASSERT_STATUS(CB_CORRUPT, cb_vault_open(NULL, 0, u8("pw"), 2, &opened));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_open(NULL, 10, u8("pw"), 2, &opened));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_open(config, len, NULL, 2, &opened));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_open(config, len, u8("pw"), 2, NULL));
    ck_assert_ptr_null(opened);

    cb_string_free(info);
    cb_bytes_free(config, len);
    cb_vault_free(vault);
}
END_TEST

START_TEST(vault_creation_refuses_bad_input) {
    cb_vault *vault = POISON;
    ASSERT_STATUS(CB_INVALID_JSON, cb_vault_create(u8("pw"), 2, "{", TEST_KDF, &vault));
    ck_assert_ptr_null(vault);
    ASSERT_STATUS(CB_INVALID_JSON, cb_vault_create(u8("pw"), 2, "{}", TEST_KDF, &vault));
    ASSERT_STATUS(CB_INVALID_JSON, cb_vault_create(u8("pw"), 2, NULL, "{\"memory_kib\": -1}", &vault));
    const char *level = "{\"chunker\": {\"min_size\": 1024, \"avg_size\": 4096, \"max_size\": 16384},"
                        " \"zstd_level\": 40, \"bundle_size\": 65536}";
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_vault_create(u8("pw"), 2, level, TEST_KDF, &vault));
    ASSERT_MESSAGE_HAS("zstd_level");
    const char *weak = "{\"memory_kib\": 0, \"iterations\": 0, \"parallelism\": 0}";
    ASSERT_STATUS(CB_INVALID_VALUE, cb_vault_create(u8("pw"), 2, NULL, weak, &vault));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_create(NULL, 2, NULL, TEST_KDF, &vault));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_create(u8("pw"), 2, NULL, TEST_KDF, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_vault_create(u8("pw"), 2, "\xff", TEST_KDF, &vault));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_vault_create(u8("pw"), 2, NULL, "\xff", &vault));
    ck_assert_ptr_null(vault);
    /* The password may be any bytes, NUL included, but not empty. */
    ASSERT_OK(cb_vault_create(u8("a\0b"), 3, NULL, TEST_KDF, &vault));
    cb_vault_free(vault);
    vault = POISON;
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_vault_create(NULL, 0, NULL, TEST_KDF, &vault));
    ASSERT_MESSAGE_HAS("password");
    ck_assert_ptr_null(vault);
    /* Functions on a NULL vault. */
    uint8_t *config = POISON;
    size_t len = 3;
    char *json = POISON;
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_config(NULL, &config, &len));
    ck_assert_ptr_null(config);
    ck_assert_uint_eq(len, 0);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_info(NULL, &json));
    ck_assert_ptr_null(json);
    vault = new_test_vault("pw");
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_config(vault, NULL, &len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_config(vault, &config, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_info(vault, NULL));
    cb_vault_free(vault);
}
END_TEST

/* Opens the stored config of `vault` with `password`: the status. */
static cb_status reopen(cb_vault *vault, const char *password) {
    uint8_t *config = NULL;
    size_t len = 0;
    ASSERT_OK(cb_vault_config(vault, &config, &len));
    cb_vault *opened = NULL;
    cb_status st = cb_vault_open(config, len, u8(password), strlen(password), &opened);
    cb_vault_free(opened);
    cb_bytes_free(config, len);
    return st;
}

START_TEST(passwords_are_added_changed_and_removed) {
    cb_vault *vault = new_test_vault("first");
    ASSERT_OK(cb_vault_add_password(vault, u8("second"), 6, TEST_KDF));
    ASSERT_OK(reopen(vault, "first"));
    ASSERT_OK(reopen(vault, "second"));
    char *info = NULL;
    ASSERT_OK(cb_vault_info(vault, &info));
    ASSERT_HAS(info, "\"key_slots\":2");
    cb_string_free(info);

    ASSERT_OK(cb_vault_change_password(vault, u8("first"), 5, u8("third"), 5, TEST_KDF));
    ASSERT_STATUS(CB_WRONG_PASSWORD, reopen(vault, "first"));
    ASSERT_OK(reopen(vault, "third"));
    ASSERT_STATUS(CB_WRONG_PASSWORD, cb_vault_change_password(vault, u8("first"), 5, u8("x"), 1, TEST_KDF));

    ASSERT_OK(cb_vault_remove_password(vault, u8("second"), 6));
    ASSERT_STATUS(CB_WRONG_PASSWORD, reopen(vault, "second"));
    ASSERT_STATUS(CB_WRONG_PASSWORD, cb_vault_remove_password(vault, u8("second"), 6));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_vault_remove_password(vault, u8("third"), 5));
    ASSERT_MESSAGE_HAS("only key slot");
    ASSERT_OK(reopen(vault, "third"));

    /* Bad input. */
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_add_password(NULL, u8("x"), 1, TEST_KDF));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_add_password(vault, NULL, 1, TEST_KDF));
    ASSERT_STATUS(CB_INVALID_JSON, cb_vault_add_password(vault, u8("x"), 1, "[]"));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_vault_add_password(vault, u8("x"), 1, "\xff"));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_remove_password(NULL, u8("x"), 1));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_remove_password(vault, NULL, 1));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_change_password(NULL, u8("a"), 1, u8("b"), 1, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_change_password(vault, NULL, 1, u8("b"), 1, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_vault_change_password(vault, u8("a"), 1, NULL, 1, NULL));
    ASSERT_STATUS(CB_INVALID_JSON, cb_vault_change_password(vault, u8("third"), 5, u8("b"), 1, "{}"));
    ASSERT_OK(reopen(vault, "third"));
    cb_vault_free(vault);
}
END_TEST

START_TEST(passwords_are_encrypted_for_agents) {
    char *agent = sample("samples-v2", "cbu-getAgentDetails_response.json");
    char *mod = strstr(agent, "\"modulus\": \"");
    ck_assert_ptr_nonnull(mod);
    mod += strlen("\"modulus\": \"");
    *strchr(mod, '"') = 0;
    char *hex = POISON;
    ASSERT_OK(cb_encrypt_password_for_agent(mod, "10001", "vault passphrase", &hex));
    ck_assert_uint_eq(strlen(hex), 512); /* a 2048-bit key */
    for (const char *c = hex; *c; c++) ck_assert(strchr("0123456789abcdef", *c) != NULL);
    char *again = NULL;
    ASSERT_OK(cb_encrypt_password_for_agent(mod, "10001", "vault passphrase", &again));
    ck_assert_str_ne(hex, again); /* random padding */
    cb_string_free(again);
    cb_string_free(hex);

    hex = POISON;
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_encrypt_password_for_agent("xyz", "10001", "p", &hex));
    ASSERT_MESSAGE_HAS("modulus_hex");
    ck_assert_ptr_null(hex);
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_encrypt_password_for_agent(mod, "g", "p", &hex));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_encrypt_password_for_agent(mod, "10001", "", &hex));
    ASSERT_MESSAGE_HAS("passphrase");
    ASSERT_STATUS(CB_INVALID_VALUE, cb_encrypt_password_for_agent("C5", "10001", "p", &hex));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_encrypt_password_for_agent(NULL, "10001", "p", &hex));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_encrypt_password_for_agent(mod, NULL, "p", &hex));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_encrypt_password_for_agent(mod, "10001", NULL, &hex));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_encrypt_password_for_agent(mod, "10001", "p", NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_encrypt_password_for_agent(mod, "10001", "p\xff", &hex));
    ck_assert_ptr_null(hex);
    free(agent);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Index and snapshots                                                 */
/* ------------------------------------------------------------------ */

START_TEST(the_golden_vault_opens_and_refuses_a_wrong_password) {
    size_t config_len;
    uint8_t *config = read_file(CB_GOLDEN_DIR "/vault/config", &config_len);
    cb_vault *vault = POISON;
    ASSERT_STATUS(CB_WRONG_PASSWORD, cb_vault_open(config, config_len, u8("not the password"), 16, &vault));
    ck_assert_ptr_null(vault);
    free(config);
    vault = open_golden_vault();
    cb_vault_free(vault);
}
END_TEST

START_TEST(index_deltas_load) {
    golden g;
    golden_load(&g);
    size_t count = 99;
    ASSERT_OK(cb_index_len(g.index, &count));
    ck_assert_uint_gt(count, 10);
    /* Loading the same delta again changes nothing. */
    ASSERT_OK(cb_index_load_delta(g.index, g.vault, g.index_delta.id, g.index_delta.data,
                                  g.index_delta.len));
    size_t again = 0;
    ASSERT_OK(cb_index_len(g.index, &again));
    ck_assert_uint_eq(again, count);

    cb_index *index = POISON;
    ASSERT_OK(cb_index_new(&index));
    ASSERT_OK(cb_index_len(index, &count));
    ck_assert_uint_eq(count, 0);
    const object *d = &g.index_delta;
    /* Named by another id. */
    ASSERT_STATUS(CB_CORRUPT, cb_index_load_delta(index, g.vault, g.snapshot_object.id, d->data, d->len));
    /* Tampered. */
    uint8_t *bad = malloc(d->len);
    memcpy(bad, d->data, d->len);
    bad[d->len / 2] ^= 0x40;
    ASSERT_STATUS(CB_CORRUPT, cb_index_load_delta(index, g.vault, d->id, bad, d->len));
    /* Truncated, and empty. */
    ASSERT_STATUS(CB_CORRUPT, cb_index_load_delta(index, g.vault, d->id, d->data, d->len - 1));
    ASSERT_STATUS(CB_CORRUPT, cb_index_load_delta(index, g.vault, d->id, NULL, 0));
    free(bad);
    /* Another vault's delta. */
    cb_vault *other = new_test_vault("pw");
    ASSERT_STATUS(CB_FOREIGN_VAULT, cb_index_load_delta(index, other, d->id, d->data, d->len));
    cb_vault_free(other);
    ASSERT_STATUS(CB_INVALID_VALUE, cb_index_load_delta(index, g.vault, "abc", d->data, d->len));
    ASSERT_MESSAGE_HAS("64 hex digits");
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_load_delta(NULL, g.vault, d->id, d->data, d->len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_load_delta(index, NULL, d->id, d->data, d->len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_load_delta(index, g.vault, NULL, d->data, d->len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_load_delta(index, g.vault, d->id, NULL, d->len));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_index_load_delta(index, g.vault, "\xff", d->data, d->len));
    ASSERT_OK(cb_index_len(index, &count));
    ck_assert_uint_eq(count, 0);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_len(NULL, &count));
    ck_assert_uint_eq(count, 0);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_len(index, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_index_new(NULL));
    cb_index_free(index);
    golden_free(&g);
}
END_TEST

START_TEST(snapshots_open) {
    golden g;
    golden_load(&g);
    char *json = POISON;
    ASSERT_OK(cb_snapshot_json(g.snapshot, &json));
    ASSERT_HAS(json, "\"path\":\"/data/notes.txt\"");
    ASSERT_HAS(json, "\"kind\":\"symlink\"");
    ASSERT_HAS(json, "\"target\":\"notes.txt\"");
    ASSERT_HAS(json, "\"files_searched\":5");
    cb_string_free(json);
    ASSERT_OK(cb_snapshot_error_report(g.snapshot, &json));
    ck_assert_str_eq(json, "null");
    cb_string_free(json);

    const object *s = &g.snapshot_object;
    cb_snapshot *snap = POISON;
    ASSERT_STATUS(CB_CORRUPT, cb_snapshot_open(g.vault, g.index_delta.id, s->data, s->len, &snap));
    ck_assert_ptr_null(snap);
    uint8_t *bad = malloc(s->len);
    memcpy(bad, s->data, s->len);
    bad[s->len - 1] ^= 1;
    ASSERT_STATUS(CB_CORRUPT, cb_snapshot_open(g.vault, s->id, bad, s->len, &snap));
    free(bad);
    cb_vault *other = new_test_vault("pw");
    ASSERT_STATUS(CB_FOREIGN_VAULT, cb_snapshot_open(other, s->id, s->data, s->len, &snap));
    cb_vault_free(other);
    ASSERT_STATUS(CB_INVALID_VALUE, cb_snapshot_open(g.vault, "zz", s->data, s->len, &snap));
    ASSERT_STATUS(CB_CORRUPT, cb_snapshot_open(g.vault, s->id, NULL, 0, &snap));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_open(NULL, s->id, s->data, s->len, &snap));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_open(g.vault, NULL, s->data, s->len, &snap));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_open(g.vault, s->id, NULL, s->len, &snap));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_open(g.vault, s->id, s->data, s->len, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_snapshot_open(g.vault, "\xe9", s->data, s->len, &snap));
    ck_assert_ptr_null(snap);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_json(NULL, &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_json(g.snapshot, NULL));
    golden_free(&g);
}
END_TEST

START_TEST(snapshots_browse) {
    golden g;
    golden_load(&g);
    char *json = POISON;
    ASSERT_OK(cb_snapshot_ls(g.snapshot, "/data", 0, &json));
    ASSERT_HAS(json, "\"path\":\"/data/notes.txt\"");
    ASSERT_HAS(json, "\"kind\":\"symlink\"");
    cb_string_free(json);
    /* A file names itself alone; a non-UTF-8 path is any bytes in, its
       quoted form in the message. */
    ASSERT_OK(cb_snapshot_ls(g.snapshot, "/data/notes.txt", 0, &json));
    ASSERT_HAS(json, "[{\"path\":\"/data/notes.txt\"");
    cb_string_free(json);
    json = POISON;
    ASSERT_STATUS(CB_NOT_FOUND, cb_snapshot_ls(g.snapshot, "/data/caf\xe9", 0, &json));
    ASSERT_MESSAGE_HAS("caf\\xe9");
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_NOT_FOUND, cb_snapshot_ls(g.snapshot, "/nothing", 1, &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_INVALID_VALUE, cb_snapshot_ls(g.snapshot, "data", 0, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_ls(NULL, "/", 0, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_ls(g.snapshot, NULL, 0, &json));

    ASSERT_OK(cb_snapshot_find(g.snapshot, "[\"*.TXT\"]", 1, &json));
    ASSERT_HAS(json, "/data/notes.txt");
    ASSERT_HAS(json, "/data/copy-of-notes.txt");
    cb_string_free(json);
    ASSERT_STATUS(CB_INVALID_JSON, cb_snapshot_find(g.snapshot, "*.txt", 0, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_snapshot_find(g.snapshot, "[]", 0, &json));
    ASSERT_STATUS(CB_INVALID_VALUE, cb_snapshot_find(g.snapshot, "[\"[\"]", 0, &json));

    ASSERT_OK(cb_snapshot_diff(g.snapshot, g.snapshot, &json));
    ASSERT_HAS(json, "\"changes\":[]");
    ASSERT_HAS(json, "\"added\":0");
    cb_string_free(json);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_diff(g.snapshot, NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_snapshot_diff(g.snapshot, g.snapshot, NULL));
    golden_free(&g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Restore                                                             */
/* ------------------------------------------------------------------ */

START_TEST(backup_filters_answer_the_walker) {
    cb_backup_filter *f = POISON;
    ASSERT_OK(cb_backup_filter_new("{\"exclude\": [\"*.log\", \"/build\"], \"iexclude\": [\"*.TMP\"],"
                                   " \"exclusions\": [{\"type\": \"folder\", \"path\": \"/var/cache/\"}],"
                                   " \"exclude_if_present\": [\".nobackup\", \"CACHEDIR.TAG:Signature\"],"
                                   " \"one_file_system\": true}",
                                   &f));
    cb_visit v = CB_VISIT_KEEP;
    ASSERT_OK(cb_backup_filter_visit(f, "/a/deep/x.log", false, 1, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_SKIP);
    ASSERT_OK(cb_backup_filter_visit(f, "/build", true, 1, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_SKIP);
    ASSERT_OK(cb_backup_filter_visit(f, "/src/build", true, 1, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_KEEP);
    ASSERT_OK(cb_backup_filter_visit(f, "/a/b.tmp", false, 1, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_SKIP);
    ASSERT_OK(cb_backup_filter_visit(f, "/var/cache/apt", true, 1, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_SKIP);
    ASSERT_OK(cb_backup_filter_visit(f, "/mnt", true, 2, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_KEEP_EMPTY);
    ASSERT_OK(cb_backup_filter_visit(f, "/caf\xe9", false, 1, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_KEEP);
    size_t n = 0;
    ASSERT_OK(cb_backup_filter_tag_count(f, &n));
    ck_assert_uint_eq(n, 2);
    char *name = POISON;
    size_t header_len = 99;
    ASSERT_OK(cb_backup_filter_tag_at(f, 1, &name, &header_len));
    ck_assert_str_eq(name, "CACHEDIR.TAG");
    ck_assert_uint_eq(header_len, 9);
    cb_string_free(name);
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_backup_filter_tag_at(f, 2, &name, &header_len));
    ck_assert_ptr_null(name);
    bool yes = false;
    ASSERT_OK(cb_backup_filter_tag_confirms(f, 1, u8("Signature: 8a47"), 15, &yes));
    ck_assert(yes);
    ASSERT_OK(cb_backup_filter_tag_confirms(f, 1, u8("nope"), 4, &yes));
    ck_assert(!yes);
    ASSERT_OK(cb_backup_filter_tag_confirms(f, 0, NULL, 0, &yes));
    ck_assert(yes);
    const char *confirmed[] = {".nobackup"};
    ASSERT_OK(cb_backup_filter_excluded_by_tags(f, confirmed, 1, "data", &yes));
    ck_assert(yes);
    ASSERT_OK(cb_backup_filter_excluded_by_tags(f, confirmed, 1, ".nobackup", &yes));
    ck_assert(!yes);
    ASSERT_OK(cb_backup_filter_excluded_by_tags(f, NULL, 0, "data", &yes));
    ck_assert(!yes);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_backup_filter_excluded_by_tags(f, NULL, 1, "data", &yes));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_backup_filter_visit(f, NULL, false, 1, 1, &v));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_backup_filter_visit(NULL, "/a", false, 1, 1, &v));
    cb_backup_filter_free(f);
    cb_backup_filter_free(NULL);

    /* No options: everything is kept. */
    ASSERT_OK(cb_backup_filter_new(NULL, &f));
    ASSERT_OK(cb_backup_filter_visit(f, "/mnt", true, 2, 1, &v));
    ck_assert_int_eq(v, CB_VISIT_KEEP);
    cb_backup_filter_free(f);

    f = POISON;
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_backup_filter_new("{\"exclude\": [\"ok\", \"[x\"]}", &f));
    ck_assert_ptr_null(f);
    ASSERT_MESSAGE_HAS("exclude[1]");
    ASSERT_STATUS(CB_INVALID_JSON, cb_backup_filter_new("{\"excludes\": []}", &f));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_backup_filter_new(NULL, NULL));

    char *json = POISON;
    ASSERT_OK(cb_read_pattern_file("# comment\n\n  *.go  \n$$x\n", &json));
    ck_assert_str_eq(json, "[\"*.go\",\"$x\"]");
    cb_string_free(json);
}
END_TEST

START_TEST(filter_globs_from_v2_filters) {
    char *json = POISON;
    ASSERT_OK(cb_filter_globs("[{\"type\": \"folder\", \"path\": \"/web/\"},"
                              " {\"type\": \"file\", \"path\": \"/a*b\"}]", &json));
    ck_assert_str_eq(json, "[\"/web\",\"/a\\\\*b\"]");
    cb_string_free(json);
    ASSERT_OK(cb_filter_globs("[]", &json));
    ck_assert_str_eq(json, "[]");
    cb_string_free(json);
    json = POISON;
    ASSERT_STATUS(CB_INVALID_JSON, cb_filter_globs("[{\"type\": \"disk\", \"path\": \"/\"}]", &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_INVALID_JSON, cb_filter_globs("", &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_filter_globs(NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_filter_globs("[]", NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_filter_globs("[\xff]", &json));
}
END_TEST

START_TEST(the_golden_vault_restores_byte_exactly) {
    golden g;
    golden_load(&g);
    cb_restore_session *s = POISON;
    /* Not sparse: every byte is written, so the 0xEE filler shows a miss. */
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index, "{\"sparse\": false}", &s));
    char *creates = NULL, *plan = NULL;
    ASSERT_OK(cb_restore_session_creates(s, &creates));
    ASSERT_HAS(creates, "{\"kind\":\"symlink\",\"path\":\"/data/latest\",\"mode\":511,"
                        "\"mtime\":1763900000,\"target\":\"notes.txt\"");
    ASSERT_HAS(creates, "{\"kind\":\"file\",\"path\":\"/data/empty\",\"mode\":420,\"mtime\":1763900000,\"size\":0");
    ASSERT_OK(cb_restore_session_plan(s, &plan));
    ASSERT_HAS(plan, "\"ranges\":[{\"offset\":");
    mem_tree t = {0};
    mem_create(s, &t);
    ck_assert_uint_eq(t.n_files, 5);
    ck_assert_uint_eq(t.n_symlinks, 1);
    mem_feed_all(s, &t, g.bundles, g.n_bundles);
    char *report = NULL;
    ASSERT_OK(cb_restore_session_finish(s, &report));
    ASSERT_HAS(report, "\"files_restored\":6");
    ASSERT_HAS(report, "\"errors\":null");
    const char *files[] = {"/data/zeros", "/data/empty", "/data/notes.txt",
                           "/data/copy-of-notes.txt", "/data/random.bin"};
    for (size_t i = 0; i < 5; i++) assert_expected(&t, files[i]);
    /* Each range's id is also in the JSON plan. */
    cb_range r;
    ASSERT_OK(cb_restore_session_range_at(s, 0, &r));
    ASSERT_HAS(plan, r.bundle_id);
    mem_free(&t);
    cb_string_free(report);
    cb_string_free(plan);
    cb_string_free(creates);
    cb_restore_session_free(s);
    golden_free(&g);
}
END_TEST

START_TEST(a_tampered_bundle_fails_its_files_not_the_restore) {
    golden g;
    golden_load(&g);
    cb_restore_session *s = NULL;
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index, NULL, &s));
    mem_tree t = {0};
    mem_create(s, &t);
    /* Flip one byte inside the first planned range of the first bundle. */
    cb_range r;
    ASSERT_OK(cb_restore_session_range_at(s, 0, &r));
    object tampered[MAX_OBJECTS];
    memcpy(tampered, g.bundles, sizeof tampered);
    for (size_t i = 0; i < g.n_bundles; i++) {
        if (strcmp(g.bundles[i].id, r.bundle_id) == 0) {
            tampered[i].data = malloc(g.bundles[i].len);
            memcpy(tampered[i].data, g.bundles[i].data, g.bundles[i].len);
            tampered[i].data[r.offset + 40] ^= 0x01;
        }
    }
    mem_feed_all(s, &t, tampered, g.n_bundles);
    char *report = NULL;
    ASSERT_OK(cb_restore_session_finish(s, &report));
    ASSERT_HAS(report, "\"type\":\"corrupt\"");
    ASSERT_HAS(report, "\"reason\":\"unable_to_process_some_files\"");
    ASSERT_HAS(report, "\"code\":7002");
    cb_string_free(report);
    for (size_t i = 0; i < g.n_bundles; i++)
        if (tampered[i].data != g.bundles[i].data) free(tampered[i].data);
    mem_free(&t);
    cb_restore_session_free(s);
    golden_free(&g);
}
END_TEST

START_TEST(missing_bundles_are_reported) {
    golden g;
    golden_load(&g);
    cb_restore_session *s = NULL;
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index, NULL, &s));
    cb_range r;
    ASSERT_OK(cb_restore_session_range_at(s, 0, &r));
    ASSERT_OK(cb_restore_session_missing(s, r.bundle_id));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_missing(s, g.index_delta.id));
    ASSERT_MESSAGE_HAS("not in the restore plan");
    ASSERT_STATUS(CB_INVALID_VALUE, cb_restore_session_missing(s, "12"));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_missing(NULL, r.bundle_id));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_missing(s, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_restore_session_missing(s, "\xff"));
    /* Ranges never fed count as missing too. */
    char *report = NULL;
    ASSERT_OK(cb_restore_session_finish(s, &report));
    ASSERT_HAS(report, "\"type\":\"not_found\"");
    ASSERT_HAS(report, "\"files_restored\":2"); /* the empty file and the symlink */
    cb_string_free(report);
    /* After finishing. */
    ASSERT_STATUS(CB_INVALID_STATE, cb_restore_session_missing(s, r.bundle_id));
    ASSERT_MESSAGE_HAS("finished");
    cb_restore_session_free(s);
    golden_free(&g);
}
END_TEST

START_TEST(writes_lend_one_buffer_per_blob_and_zeros_stay_holes) {
    golden g;
    golden_load(&g);
    cb_restore_session *s = NULL;
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index, NULL, &s));
    mem_tree t = {0};
    mem_create(s, &t);
    /* Files are created at their size: what is never written reads as 0. */
    for (size_t i = 0; i < t.n_files; i++) memset(t.files[i].data, 0, t.files[i].size);
    size_t ranges = 0, zeros_writes = 0, shared = 0;
    const uint8_t *notes = NULL, *copy = NULL;
    ASSERT_OK(cb_restore_session_range_count(s, &ranges));
    for (size_t i = 0; i < ranges; i++) {
        cb_range r;
        ASSERT_OK(cb_restore_session_range_at(s, i, &r));
        const object *b = NULL;
        for (size_t k = 0; k < g.n_bundles; k++)
            if (strcmp(g.bundles[k].id, r.bundle_id) == 0) b = &g.bundles[k];
        ck_assert_ptr_nonnull(b);
        ASSERT_OK(cb_restore_session_feed(s, r.bundle_id, r.offset, b->data + r.offset, (size_t)r.length));
        for (;;) {
            const char *path = POISON;
            uint64_t offset = 7;
            const uint8_t *data = POISON;
            size_t len = 7;
            ASSERT_OK(cb_restore_session_next_write(s, &path, &offset, &data, &len));
            if (path == NULL) {
                ck_assert_ptr_null(data);
                ck_assert_uint_eq(len, 0);
                break;
            }
            mem_file *f = mem_find(&t, path);
            ck_assert_ptr_nonnull(f);
            ck_assert_uint_le(offset + len, f->size);
            memcpy(f->data + offset, data, len);
            if (strcmp(path, "/data/zeros") == 0) zeros_writes++;
            if (strcmp(path, "/data/notes.txt") == 0 && offset == 0) notes = data;
            if (strcmp(path, "/data/copy-of-notes.txt") == 0 && offset == 0) {
                copy = data;
                if (copy == notes) shared++;
            }
        }
    }
    ck_assert_uint_eq(zeros_writes, 0);
    ck_assert_ptr_nonnull(copy);
    ck_assert_uint_eq(shared, 1); /* the same bytes lent for both copies */
    const char *files[] = {"/data/zeros", "/data/empty", "/data/notes.txt",
                           "/data/copy-of-notes.txt", "/data/random.bin"};
    for (size_t i = 0; i < 5; i++) assert_expected(&t, files[i]);
    char *report = NULL;
    ASSERT_OK(cb_restore_session_finish(s, &report));
    ASSERT_HAS(report, "\"files_restored\":6");
    cb_string_free(report);
    /* A file the host could not move into place fails in the report. */
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_fail_path(s, "/nowhere", "x"));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_fail_path(s, NULL, "x"));
    ASSERT_OK(cb_restore_session_fail_path(s, "/data/zeros", "No space left on device"));
    ASSERT_OK(cb_restore_session_report(s, &report));
    ASSERT_HAS(report, "\"files_restored\":5");
    ASSERT_HAS(report, "\"path\":\"/data/zeros\",\"type\":\"write_failed\"");
    ASSERT_HAS(report, "\"code\":7006,\"description\":\"No space left on device\"");
    cb_string_free(report);
    /* The entries to apply stay as they were at finish (a host walking
     * them by index while failing some misses none): the host skips what
     * it failed. */
    size_t applies = 0, zeros = 0;
    ASSERT_OK(cb_restore_session_apply_count(s, &applies));
    for (size_t k = 0; k < applies; k++) {
        cb_create c;
        ASSERT_OK(cb_restore_session_apply_at(s, k, &c));
        zeros += strcmp(c.path, "/data/zeros") == 0;
    }
    ck_assert_uint_eq(zeros, 1);
    mem_free(&t);
    cb_restore_session_free(s);
    golden_free(&g);
}
END_TEST

START_TEST(restore_options_select_and_skip) {
    golden g;
    golden_load(&g);
    cb_restore_session *s = NULL;
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index,
                                     "{\"inclusions\": [\"/data/*.txt\", \"/data/zeros\"],"
                                     " \"exclusions\": [\"/data/copy-*\"],"
                                     " \"existing\": [\"/data/zeros\"], \"max_gap\": 0}", &s));
    size_t count = 0;
    ASSERT_OK(cb_restore_session_create_count(s, &count));
    /* The folder above an included path comes along (restic's meaning). */
    ck_assert_uint_eq(count, 2);
    cb_create c;
    ASSERT_OK(cb_restore_session_create_at(s, 0, &c));
    ck_assert_str_eq(c.path, "/data");
    ck_assert_int_eq(c.kind, CB_ENTRY_DIR);
    ASSERT_OK(cb_restore_session_create_at(s, 1, &c));
    ck_assert_str_eq(c.path, "/data/notes.txt");
    ck_assert_int_eq(c.kind, CB_ENTRY_FILE);
    ck_assert_uint_eq(c.size, 81390);
    ck_assert_uint_eq(c.mode, 0644);
    mem_tree t = {0};
    mem_create(s, &t);
    mem_feed_all(s, &t, g.bundles, g.n_bundles);
    assert_expected(&t, "/data/notes.txt");
    char *report = NULL;
    ASSERT_OK(cb_restore_session_finish(s, &report));
    ASSERT_HAS(report, "\"files_restored\":1");
    ASSERT_HAS(report, "\"files_skipped\":1");
    cb_string_free(report);
    mem_free(&t);
    cb_restore_session_free(s);
    /* Overwriting restores the existing file. */
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index,
                                     "{\"inclusions\": [\"/data/zeros\"], \"overwrite\": true,"
                                     " \"existing\": [\"/data/zeros\"]}", &s));
    ASSERT_OK(cb_restore_session_create_count(s, &count));
    ck_assert_uint_eq(count, 2);
    cb_restore_session_free(s);
    golden_free(&g);
}
END_TEST

START_TEST(restore_sessions_refuse_bad_input) {
    golden g;
    golden_load(&g);
    cb_restore_session *s = POISON;
    ASSERT_STATUS(CB_INVALID_JSON, cb_restore_session_new(g.vault, g.snapshot, g.index, "{", &s));
    ck_assert_ptr_null(s);
    ASSERT_STATUS(CB_INVALID_JSON, cb_restore_session_new(g.vault, g.snapshot, g.index, "{\"overwrite\": 1}", &s));
    ASSERT_STATUS(CB_INVALID_JSON, cb_restore_session_new(g.vault, g.snapshot, g.index, "{\"include\": []}", &s));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_new(g.vault, g.snapshot, g.index,
                                                              "{\"inclusions\": [\"/a/[b\"]}", &s));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_new(NULL, g.snapshot, g.index, NULL, &s));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_new(g.vault, NULL, g.index, NULL, &s));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_new(g.vault, g.snapshot, NULL, NULL, &s));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_new(g.vault, g.snapshot, g.index, NULL, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_restore_session_new(g.vault, g.snapshot, g.index, "\xff", &s));
    ck_assert_ptr_null(s);

    /* An index without the snapshot's blobs: every file fails, none planned. */
    cb_index *empty = NULL;
    ASSERT_OK(cb_index_new(&empty));
    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, empty, NULL, &s));
    size_t n = 9;
    ASSERT_OK(cb_restore_session_range_count(s, &n));
    ck_assert_uint_eq(n, 0);
    char *report = NULL;
    ASSERT_OK(cb_restore_session_finish(s, &report));
    ASSERT_HAS(report, "\"type\":\"not_found\"");
    cb_string_free(report);
    cb_restore_session_free(s);
    cb_index_free(empty);

    ASSERT_OK(cb_restore_session_new(g.vault, g.snapshot, g.index, NULL, &s));
    cb_range r;
    ASSERT_OK(cb_restore_session_range_at(s, 0, &r));
    const object *b = golden_bundle(&g, r.bundle_id);
    /* Unplanned offset, too many bytes, twice, unknown bundle, bad id. */
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_feed(s, r.bundle_id, r.offset + 1, b->data, 1));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_feed(s, r.bundle_id, r.offset, b->data + r.offset,
                                                               (size_t)r.length + 1));
    ASSERT_OK(cb_restore_session_feed(s, r.bundle_id, r.offset, b->data + r.offset, (size_t)r.length));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_feed(s, r.bundle_id, r.offset, b->data + r.offset,
                                                               (size_t)r.length));
    ASSERT_MESSAGE_HAS("already fed");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_feed(s, g.index_delta.id, 0, b->data, 1));
    ASSERT_STATUS(CB_INVALID_VALUE, cb_restore_session_feed(s, "nope", 0, b->data, 1));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_feed(NULL, r.bundle_id, 0, b->data, 1));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_feed(s, NULL, 0, b->data, 1));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_feed(s, r.bundle_id, 0, NULL, 1));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_restore_session_feed(s, "\xff", 0, b->data, 1));

    /* Accessors. */
    size_t count = 9;
    cb_create c;
    c.path = POISON;
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_create_at(s, 1000, &c));
    ck_assert_ptr_null(c.path);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_create_at(NULL, 0, &c));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_create_at(s, 0, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_create_count(NULL, &count));
    ck_assert_uint_eq(count, 0);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_create_count(s, NULL));
    r.bundle_id = POISON;
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_restore_session_range_at(s, 1000, &r));
    ck_assert_ptr_null(r.bundle_id);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_range_at(NULL, 0, &r));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_range_at(s, 0, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_range_count(NULL, &count));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_range_count(s, NULL));
    char *json = POISON;
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_creates(NULL, &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_creates(s, NULL));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_plan(NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_plan(s, NULL));

    /* Taking writes. */
    char *path = POISON;
    uint64_t offset = 1;
    uint8_t *data = POISON;
    size_t len = 1;
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_take_write(NULL, &path, &offset, &data, &len));
    ck_assert_ptr_null(path);
    ck_assert_ptr_null(data);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_take_write(s, NULL, &offset, &data, &len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_take_write(s, &path, NULL, &data, &len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_take_write(s, &path, &offset, NULL, &len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_take_write(s, &path, &offset, &data, NULL));
    ASSERT_OK(cb_restore_session_take_write(s, &path, &offset, &data, &len));
    ck_assert_ptr_nonnull(path);
    cb_string_free(path);
    cb_bytes_free(data, len);

    /* Finishing, then everything but taking and reading is refused. */
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_finish(NULL, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_restore_session_finish(s, NULL));
    ASSERT_OK(cb_restore_session_finish(s, &json));
    cb_string_free(json);
    json = POISON;
    ASSERT_STATUS(CB_INVALID_STATE, cb_restore_session_finish(s, &json));
    ck_assert_ptr_null(json);
    ASSERT_OK(cb_restore_session_range_at(s, 0, &r));
    ASSERT_STATUS(CB_INVALID_STATE, cb_restore_session_feed(s, r.bundle_id, r.offset, b->data, 1));
    /* Writes of the fed range not taken yet are still there. */
    for (;;) {
        ASSERT_OK(cb_restore_session_take_write(s, &path, &offset, &data, &len));
        if (path == NULL) break;
        cb_string_free(path);
        cb_bytes_free(data, len);
    }
    ASSERT_OK(cb_restore_session_create_count(s, &count));
    ck_assert_uint_gt(count, 0);
    cb_restore_session_free(s);
    golden_free(&g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Verify                                                              */
/* ------------------------------------------------------------------ */

START_TEST(the_golden_vault_verifies) {
    golden g;
    golden_load(&g);
    char *plan = POISON;
    ASSERT_OK(cb_verify_plan(g.index, 1.0, 0, &plan));
    for (size_t i = 0; i < g.n_bundles; i++) ASSERT_HAS(plan, g.bundles[i].id);
    ASSERT_HAS(plan, "\"ranges\":[]");
    cb_string_free(plan);
    ASSERT_OK(cb_verify_plan(g.index, 0.5, 7, &plan));
    ck_assert_int_eq(strlen(plan), strlen("[{\"bundle\":\"\",\"ranges\":[]}]") + 64);
    cb_string_free(plan);
    ASSERT_OK(cb_verify_plan(g.index, 0.0, 7, &plan));
    ck_assert_str_eq(plan, "[]");
    cb_string_free(plan);

    cb_verifier *v = POISON;
    ASSERT_OK(cb_verifier_new(g.vault, g.index, &v));
    for (size_t i = 0; i < g.n_bundles; i++)
        ASSERT_OK(cb_verifier_feed(v, g.bundles[i].id, g.bundles[i].data, g.bundles[i].len));
    char *report = NULL;
    ASSERT_OK(cb_verifier_report(v, &report));
    ASSERT_HAS(report, "\"ok\":true");
    ASSERT_HAS(report, "\"bundles_checked\":2");
    ASSERT_HAS(report, "\"problems\":[]");
    cb_string_free(report);
    cb_verifier_free(v);
    golden_free(&g);
}
END_TEST

START_TEST(verification_finds_tampered_and_missing_bundles) {
    golden g;
    golden_load(&g);
    cb_verifier *v = NULL;
    ASSERT_OK(cb_verifier_new(g.vault, g.index, &v));
    const object *b = &g.bundles[0];
    uint8_t *bad = malloc(b->len);
    memcpy(bad, b->data, b->len);
    bad[b->len / 3] ^= 0x80;
    ASSERT_STATUS(CB_CORRUPT, cb_verifier_feed(v, b->id, bad, b->len));
    ASSERT_STATUS(CB_CORRUPT, cb_verifier_feed(v, b->id, b->data, b->len - 1));
    ASSERT_STATUS(CB_CORRUPT, cb_verifier_feed(v, b->id, NULL, 0));
    ASSERT_STATUS(CB_CORRUPT, cb_verifier_feed(v, g.bundles[1].id, b->data, b->len));
    free(bad);
    ASSERT_OK(cb_verifier_missing(v, g.bundles[1].id));
    char *report = NULL;
    ASSERT_OK(cb_verifier_report(v, &report));
    ASSERT_HAS(report, "\"ok\":false");
    ASSERT_HAS(report, "\"code\":\"corrupt\"");
    ASSERT_HAS(report, "\"code\":\"not_found\"");
    cb_string_free(report);
    /* Bad input. */
    char *json = POISON;
    ASSERT_STATUS(CB_INVALID_VALUE, cb_verifier_feed(v, "x", b->data, b->len));
    ASSERT_STATUS(CB_INVALID_VALUE, cb_verifier_missing(v, "x"));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_feed(NULL, b->id, b->data, b->len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_feed(v, NULL, b->data, b->len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_feed(v, b->id, NULL, b->len));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_verifier_feed(v, "\xff", b->data, b->len));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_missing(NULL, b->id));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_missing(v, NULL));
    ASSERT_STATUS(CB_INVALID_UTF8, cb_verifier_missing(v, "\xff"));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_report(NULL, &json));
    ck_assert_ptr_null(json);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_report(v, NULL));
    cb_verifier_free(v);
    v = POISON;
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_new(NULL, g.index, &v));
    ck_assert_ptr_null(v);
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_new(g.vault, NULL, &v));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verifier_new(g.vault, g.index, NULL));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_verify_plan(g.index, 1.5, 0, &json));
    ASSERT_MESSAGE_HAS("fraction");
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_verify_plan(g.index, -0.1, 0, &json));
    ASSERT_STATUS(CB_INVALID_ARGUMENT, cb_verify_plan(g.index, 0.0 / 0.0, 0, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verify_plan(NULL, 1.0, 0, &json));
    ASSERT_STATUS(CB_NULL_ARGUMENT, cb_verify_plan(g.index, 1.0, 0, NULL));
    ck_assert_ptr_null(json);
    golden_free(&g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Runner                                                              */
/* ------------------------------------------------------------------ */

#include "test_agent.inc"
#include "test_backup.inc"
#include "test_state.inc"
#include "test_parent.inc"
#include "test_tamper.inc"
#include "test_prune.inc"
#include "test_dump.inc"
#include "test_job.inc"

static Suite *cloudbackup_suite(void) {
    Suite *s = suite_create("libcloudbackup");
    struct {
        const char *name;
        const TTest *tests[16];
    } groups[] = {
        {"boundary",
         {version_is_a_static_string, version_macros_match_the_library,
          status_names_are_distinct_and_total,
          last_error_message_fills_the_callers_buffer, truncation_never_splits_a_character,
          freeing_null_is_a_no_op, a_panic_is_a_status_not_an_abort}},
        {"model", {model_types_are_listed, model_parse_normalises_a_sample, model_parse_refuses_bad_input}},
        {"api",
         {operations_are_listed, requests_are_built_by_name, request_building_refuses_bad_input,
          responses_are_parsed_by_name, response_parsing_refuses_bad_input}},
        {"rules",
         {lifecycle_transitions_by_name, lifecycle_allowed_actions_and_targets,
          patches_are_validated_per_endpoint, patch_validation_refuses_bad_input}},
        {"keys",
         {vaults_are_created_stored_and_opened, vault_creation_refuses_bad_input,
          passwords_are_added_changed_and_removed, passwords_are_encrypted_for_agents,
          the_golden_vault_opens_and_refuses_a_wrong_password}},
        {"objects", {index_deltas_load, snapshots_open, snapshots_browse}},
        {"restore",
         {filter_globs_from_v2_filters, the_golden_vault_restores_byte_exactly,
          a_tampered_bundle_fails_its_files_not_the_restore, missing_bundles_are_reported,
          restore_options_select_and_skip, restore_sessions_refuse_bad_input,
          writes_lend_one_buffer_per_blob_and_zeros_stay_holes, backup_filters_answer_the_walker}},
        {"verify", {the_golden_vault_verifies, verification_finds_tampered_and_missing_bundles}},
        AGENT_GROUP,
        BACKUP_GROUP,
        STATE_GROUP,
        PARENT_GROUP,
        TAMPER_GROUP,
        PRUNE_GROUP,
        DUMP_GROUP,
        JOB_GROUP,
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        TCase *tc = tcase_create(groups[i].name);
        /* Generous: valgrind runs these 20-50 times slower. */
        tcase_set_timeout(tc, 600);
        for (size_t k = 0; k < 16 && groups[i].tests[k] != NULL; k++)
            tcase_add_test(tc, groups[i].tests[k]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(cloudbackup_suite());
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
