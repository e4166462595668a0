/*
 * api_probe.c: the C side of the API comparison (tests/interop/README.md).
 *
 *   api_probe CASES > answers
 *
 * Reads the cases file (one case a line, tab-separated hex-encoded UTF-8
 * fields: op, then its arguments) and prints one JSON answer a line through
 * libcloudbackup: {"ok": true, "result": <the library's JSON>} or
 * {"ok": false, "code": "<core error code>", "message": "...", "details":
 * <cb_last_error_details>}. Plain RFC 6902 application has no C export:
 * "apply" cases answer {"skip": ...}. The "fid-*" cases are the API
 * fidelity table's (tests/data/api-fidelity): requests (as an agent when
 * an agent id is given), responses, the agent's RSA key, snapshot ids.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudbackup.h"

#define MAX_FIELDS 6

/* The core's error code of a status, as the other bindings spell it. */
static const char *code_of(cb_status st) {
    switch (st) {
    case CB_INVALID_JSON: return "invalid_json";
    case CB_INVALID_VALUE: return "invalid_value";
    case CB_INVALID_ARGUMENT: return "invalid_argument";
    case CB_API: return "api";
    case CB_UNEXPECTED_RESPONSE: return "unexpected_response";
    case CB_TRANSITION: return "transition";
    case CB_PATCH_REJECTED: return "patch_rejected";
    case CB_PATCH_CONFLICT: return "patch_conflict";
    case CB_PATCH_FORBIDDEN: return "patch_forbidden";
    case CB_WRONG_PASSWORD: return "wrong_password";
    case CB_CORRUPT: return "corrupt";
    case CB_FOREIGN_VAULT: return "foreign_vault";
    case CB_UNSUPPORTED_VERSION: return "unsupported_version";
    case CB_NOT_FOUND: return "not_found";
    case CB_INVALID_STATE: return "invalid_state";
    case CB_LOCKED: return "locked";
    default: return cb_status_name(st); /* a boundary status: shows up as a difference */
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes hex in place into a NUL-terminated string; its length in *len. */
static char *unhex(char *s, size_t *len) {
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "api_probe: bad hex\n");
            exit(2);
        }
        s[i] = (char)(hi * 16 + lo);
    }
    s[n] = 0;
    *len = n;
    return s;
}

/* Decodes hex text (already a C string) into bytes in place; their count in
 * *len. */
static uint8_t *unhex_bytes(char *s, size_t *len) {
    size_t n = 0;
    unhex(s, &n);
    *len = n;
    return (uint8_t *)s;
}

/* Splits `line` at tabs in place, keeping empty fields (strtok would drop
 * them); returns the number of fields. */
static size_t split_tabs(char *line, char **field, size_t max) {
    size_t n = 0;
    char *p = line;
    while (n < max) {
        field[n++] = p;
        char *tab = strchr(p, '\t');
        if (tab == NULL) break;
        *tab = 0;
        p = tab + 1;
    }
    return n;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASES\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (line[got - 1] == '\n') line[got - 1] = 0;
        if (line[0] == 0) continue;
        char *field[MAX_FIELDS];
        size_t len[MAX_FIELDS];
        size_t n = split_tabs(line, field, MAX_FIELDS);
        for (size_t i = 0; i < n; i++) field[i] = unhex(field[i], &len[i]);
        const char *op = field[0];
        char *out = NULL;
        cb_status st;
        const uint8_t *u[MAX_FIELDS];
        for (size_t i = 0; i < n; i++) u[i] = (const uint8_t *)field[i];
        if (strcmp(op, "model") == 0 && n == 3) {
            st = cb_model_parse(field[1], u[2], len[2], &out);
        } else if (strcmp(op, "validate") == 0 && n == 5) {
            st = cb_patch_validate(field[1], u[2], len[2], u[3], len[3], field[4], -1, &out);
        } else if (strcmp(op, "transition") == 0 && n == 5) {
            st = cb_lifecycle_transition(field[1], field[2], field[3], field[4], &out);
        } else if (strcmp(op, "actions") == 0 && n == 3) {
            st = cb_lifecycle_allowed_actions(field[1], field[2], &out);
        } else if (strcmp(op, "targets") == 0 && n == 4) {
            st = cb_lifecycle_allowed_targets(field[1], field[2], field[3], &out);
        } else if (strcmp(op, "fid-request") == 0 && n == 6) {
            st = len[5] == 0 ? cb_build_request(field[1], field[2], field[3], field[4], &out)
                             : cb_build_request_as_agent(field[1], field[2], field[3], field[4], field[5], &out);
        } else if (strcmp(op, "fid-response") == 0 && n == 6) {
            st = cb_parse_response(field[1], field[2], atoi(field[3]), len[4] == 0 ? NULL : field[4], u[5], len[5],
                                   &out);
        } else if ((strcmp(op, "fid-decrypt") == 0 && n == 3) || (strcmp(op, "fid-pubkey") == 0 && n == 2)) {
            size_t der_len = 0;
            uint8_t *der = unhex_bytes(field[1], &der_len);
            cb_agent_key *key = NULL;
            st = cb_agent_key_from_der(der, der_len, &key);
            if (st == CB_OK && n == 3) {
                char *plain = NULL;
                st = cb_agent_key_decrypt_password(key, field[2], &plain);
                if (st == CB_OK) {
                    /* A JSON string, as the other probes print the passphrase. */
                    printf("{\"ok\":true,\"result\":");
                    print_json_string(plain);
                    printf("}\n");
                    cb_string_free(plain);
                    cb_agent_key_free(key);
                    continue;
                }
            } else if (st == CB_OK) {
                st = cb_agent_key_public_key(key, &out);
            }
            cb_agent_key_free(key);
        } else if (strcmp(op, "fid-snapid") == 0 && n == 2) {
            int64_t id = 0;
            st = cb_snapshot_id_for_vault_snapshot(field[1], &id);
            if (st == CB_OK) {
                printf("{\"ok\":true,\"result\":%" PRId64 "}\n", id);
                continue;
            }
        } else if (strcmp(op, "fid-snapprefix") == 0 && n == 2) {
            st = cb_vault_snapshot_prefix(strtoll(field[1], NULL, 10), &out);
            if (st == CB_OK) {
                printf("{\"ok\":true,\"result\":");
                print_json_string(out);
                printf("}\n");
                cb_string_free(out);
                continue;
            }
        } else if (strcmp(op, "apply") == 0) {
            printf("{\"skip\":\"the C library exports no plain RFC 6902 apply\"}\n");
            continue;
        } else {
            fprintf(stderr, "api_probe: unknown case %s with %zu fields\n", op, n);
            return 2;
        }
        if (st == CB_OK) {
            printf("{\"ok\":true,\"result\":%s}\n", out);
        } else {
            size_t needed = 0;
            cb_last_error_message(NULL, 0, &needed);
            char *message = malloc(needed + 1);
            if (message == NULL) return 3;
            cb_last_error_message(message, needed + 1, NULL);
            char *details = NULL;
            if (cb_last_error_details(&details) != CB_OK) return 3;
            printf("{\"ok\":false,\"code\":\"%s\",\"message\":", code_of(st));
            print_json_string(message);
            printf(",\"details\":%s}\n", details);
            cb_string_free(details);
            free(message);
        }
        cb_string_free(out);
    }
    free(line);
    fclose(f);
    return 0;
}
