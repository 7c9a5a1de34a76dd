/*
 * nearest.h -- "did you mean": the plugin on the search path whose name is
 * nearest to a mistyped one.
 */
#ifndef NK_CORE_NEAREST_H
#define NK_CORE_NEAREST_H

#include <stddef.h>

#include "config/settings.h"

/*
 * The NAME of a NAME.so in `dirs` within two edits of `name` (the nearest,
 * the first found on a tie), copied to buf.  Returns buf, or NULL when none
 * is that near.
 */
const char *nk__plugin_nearest(const char *name, const struct nk__strlist *dirs,
                               char *buf, size_t size);

#endif /* NK_CORE_NEAREST_H */
