/*
 * codec_host.h -- the host table for callers that use a plugin's codec
 * only: `netkit connect` and `netkit check`.  They call create, decode and
 * encode, never the serving callbacks, so every service that acts on a
 * session or the instance refuses politely (NK_ENOTSUP, or nothing to do);
 * log works, so a plugin's create can explain itself.  create is told
 * NK_ROLE_CONNECT (connect) and has no ctx.
 */
#ifndef NK_PLUGIN_CODEC_HOST_H
#define NK_PLUGIN_CODEC_HOST_H

#include <netkit/plugin.h>

extern const struct nk_host nk__codec_host;

#endif /* NK_PLUGIN_CODEC_HOST_H */
