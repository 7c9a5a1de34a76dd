/*
 * nearest.c -- the plugin name nearest to a mistyped one.  See nearest.h.
 */
#include "plugin/nearest.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "config/value.h"

const char *
nk__plugin_nearest(const char *name, const struct nk__strlist *dirs, char *buf,
                   size_t size)
{
    int best = 3; /* more than two edits is another name, not a typo */

    for (size_t i = 0; i < dirs->n; i++) {
        DIR *d = opendir(dirs->items[i]);
        struct dirent *e;

        if (d == NULL)
            continue;
        while ((e = readdir(d)) != NULL) {
            char cand[256];
            size_t len = strlen(e->d_name);
            int dist;

            if (len <= 3 || len - 3 >= sizeof(cand) ||
                strcmp(e->d_name + len - 3, ".so") != 0)
                continue;
            memcpy(cand, e->d_name, len - 3);
            cand[len - 3] = '\0';
            dist = nk__edit_distance(name, cand);
            /* A one-letter name is two edits from every other one. */
            if (dist < best && (size_t)dist < strlen(cand)) {
                best = dist;
                snprintf(buf, size, "%s", cand);
            }
        }
        closedir(d);
    }
    return best < 3 ? buf : NULL;
}
