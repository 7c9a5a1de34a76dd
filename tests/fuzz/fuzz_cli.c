/*
 * fuzz_cli.c -- the command line (cli.c, getopt_long) and the merge that
 * follows it, on any argv: the input split on NUL bytes, after "netkit".
 *
 * Invariants: a refusal is one line with status 2 (1: out of memory); the
 * same argv parsed twice in one process gives the same answer (getopt's
 * state is reset between parses).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "config/cli.h"
#include "config/settings.h"

#include "fuzz_check.h"

#define FZ_ARGS_MAX 32

/* Parse argv; the formatted error (or "") into line. */
static int
parse(int argc, char **argv, char *line, size_t size)
{
    struct nk__settings s;
    struct nk_err err;
    int rc;

    memset(&err, 0, sizeof(err));
    nk__settings_init(&s);
    rc = nk__cli_parse(&s, argc, argv, &err);
    if (rc == 0 && (s.command == NK_CMD_SERVE || s.command == NK_CMD_CONNECT) &&
        !s.help)
        rc = nk__settings_finish(&s, &err);
    line[0] = '\0';
    if (rc < 0) {
        nk__err_format(&err, line, size);
        FZ_CHECK(line[0] != '\0');
        FZ_CHECK(strchr(line, '\n') == NULL);
        FZ_CHECK(err.status == 1 || err.status == 2);
    }
    nk__settings_free(&s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *argv[FZ_ARGS_MAX + 2];
    char first[1024], second[1024];
    int argc = 1, rc1, rc2;
    size_t start = 0;

    FZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[0] = "netkit";
    for (size_t i = 0; i <= size && argc <= FZ_ARGS_MAX; i++)
        if (copy[i] == '\0') {
            argv[argc++] = copy + start;
            start = i + 1;
        }
    argv[argc] = NULL;
    rc1 = parse(argc, argv, first, sizeof(first));
    rc2 = parse(argc, argv, second, sizeof(second));
    FZ_CHECK(rc1 == rc2);
    FZ_CHECK(strcmp(first, second) == 0);
    free(copy);
    return 0;
}
