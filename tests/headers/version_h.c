/* version_h.c -- <netkit/version.h> on its own, under -std=c99 -pedantic. */
#include <netkit/version.h>

int headers_version(void);

/* Returns 0 when the version macros are usable in expressions.  (A file
 * that only included the header would be an empty translation unit, which
 * -pedantic rejects.) */
int
headers_version(void)
{
    static const char v[] = NK_VERSION_STRING;

    return NK_ABI_MAJOR >= 1 && NK_ABI_MINOR >= 0 && v[0] != '\0' ? 0 : 1;
}
