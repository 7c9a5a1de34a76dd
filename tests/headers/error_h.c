/* error_h.c -- <netkit/error.h> on its own, under -std=c99 -pedantic. */
#include <netkit/error.h>

int headers_error(void);

/* Returns 0 when the generated enum and lookups agree. */
int
headers_error(void)
{
    enum nk_errno e = NK_ENEEDMORE;

    return nk_strerror(e)[0] == 'n' && nk_err_name(NK_EPROTO)[0] == 'N' ? 0 : 1;
}
