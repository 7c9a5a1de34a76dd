/* sysconf.c -- the GNU rule for the configuration directory.  See
 * sysconf.h. */
#include "config/sysconf.h"

#include <stdio.h>
#include <string.h>

int
nk__sysconf_path(const char *prefix, const char *etc, const char *tail,
                 char *buf, size_t size)
{
    int n;

    if (etc[0] == '/')
        n = snprintf(buf, size, "%s/%s", etc, tail);
    else if (strcmp(prefix, "/") == 0 || strcmp(prefix, "/usr") == 0)
        n = snprintf(buf, size, "/%s/%s", etc, tail);
    /* Under /opt/homebrew/ a prefix is like /usr/local, not a package's
     * (GNUInstallDirs makes the same exception). */
    else if (strncmp(prefix, "/opt/", 5) == 0 && prefix[5] != '\0' &&
             strncmp(prefix, "/opt/homebrew/", 14) != 0)
        n = snprintf(buf, size, "/%s%s/%s", etc, prefix, tail);
    else
        n = snprintf(buf, size, "%s/%s/%s", prefix, etc, tail);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
