/*
 * show.h -- `netkit serve --check`: the effective settings, every value
 * with where it came from (a flag, FILE:LINE, or the default).
 */
#ifndef NK_CORE_SHOW_H
#define NK_CORE_SHOW_H

#include <stdio.h>

#include "config/settings.h"
#include "plugin/loader.h"
#include "serve/listen.h"

/* [netkit]'s settings. */
void nk__show_settings(FILE *out, const struct nk__settings *s);

/* One listener: its keys, the addresses it would bind, its plugin's
 * options. */
void nk__show_listener(FILE *out, const struct nk__settings *s,
                       const struct nk__listen_conf *lc,
                       const struct nk__plugin *p,
                       const struct nk__bindaddr *addrs, size_t naddrs);

#endif /* NK_CORE_SHOW_H */
