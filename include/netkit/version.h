/*
 * netkit/version.h -- versions of the netkit plugin ABI and of netkit itself.
 *
 * The ABI major changes when a struct layout or a callback contract changes
 * incompatibly: the host refuses a plugin built for another major.  The ABI
 * minor grows when members are appended to the end of a struct; a plugin built
 * for an older minor still loads (the host reads its `size` field first).
 */
#ifndef NETKIT_VERSION_H
#define NETKIT_VERSION_H

#define NK_ABI_MAJOR 1
#define NK_ABI_MINOR 2

#define NK_VERSION_MAJOR  0
#define NK_VERSION_MINOR  1
#define NK_VERSION_PATCH  0
#define NK_VERSION_STRING "0.1.0"

#endif /* NETKIT_VERSION_H */
