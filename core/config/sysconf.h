/*
 * sysconf.h -- where an install under a given prefix keeps netkit.ini.
 *
 * The rule is GNUInstallDirs' for SYSCONFDIR, which `make install` follows
 * at install time (cmake/sysconfdir.cmake): prefix /usr or / keeps its
 * configuration in /etc, prefix /opt/NAME in /etc/opt/NAME, any other
 * prefix in PREFIX/etc.  A binary installed under another prefix than the
 * one configured looks where that install put the file.
 */
#ifndef NK_CORE_SYSCONF_H
#define NK_CORE_SYSCONF_H

#include <stddef.h>

/* The configuration directory for `prefix` (absolute, no trailing slash
 * but for "/") and `etc`, the directory relative to the prefix (CMake's
 * CMAKE_INSTALL_SYSCONFDIR, "etc"), followed by `tail`, into buf.
 * An absolute `etc` is taken as it is.  Returns 0, or -1 when it does not
 * fit. */
int nk__sysconf_path(const char *prefix, const char *etc, const char *tail,
                     char *buf, size_t size);

#endif /* NK_CORE_SYSCONF_H */
