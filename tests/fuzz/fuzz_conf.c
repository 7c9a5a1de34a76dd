/*
 * fuzz_conf.c -- the config loader (conf.c, through inih) and the merge
 * that follows it (nk__settings_finish), on any file content.
 *
 * Invariants: a refusal is one line (no newline), names the file, and has
 * status 1 (out of memory) or 2; an accepted file gives listeners that
 * each have a name, a proto and a port in range.
 */
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "config/conf.h"
#include "config/settings.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    struct nk__settings s;
    struct nk_err err;
    char path[64], line[1024];
    int rc;

    if (fd < 0)
        fd = memfd_create("fuzz.ini", 0);
    FZ_CHECK(fd >= 0);
    FZ_CHECK(ftruncate(fd, 0) == 0);
    FZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    memset(&err, 0, sizeof(err));
    nk__settings_init(&s);
    rc = nk__conf_load(&s, path, &err);
    if (rc == 0)
        rc = nk__settings_finish(&s, &err);
    if (rc < 0) {
        nk__err_format(&err, line, sizeof(line));
        FZ_CHECK(line[0] != '\0');
        FZ_CHECK(strchr(line, '\n') == NULL);
        FZ_CHECK(err.status == 1 || err.status == 2);
    } else {
        for (size_t i = 0; i < s.nlisteners; i++) {
            FZ_CHECK(s.listeners[i].name != NULL);
            FZ_CHECK(s.listeners[i].proto != NULL);
            FZ_CHECK(s.listeners[i].port >= 0 && s.listeners[i].port <= 65535);
        }
    }
    nk__settings_free(&s);
    return 0;
}
