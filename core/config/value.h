/*
 * value.h -- parsers for every value a user writes: numbers, sizes, booleans,
 * choices, quoted strings.  Shared by the command line, the config file,
 * socket options and plugin options, so one value reads the same everywhere.
 *
 * Each returns NULL on success or a short phrase saying what is wrong
 * ("invalid number 'abc'", "out of range 1..65535"), which the caller puts
 * after the option's name and location (nginx's ngx_conf_set_*_slot style).
 * The phrase lives in a thread-local buffer until the next call.
 */
#ifndef NK_CORE_VALUE_H
#define NK_CORE_VALUE_H

#include <stddef.h>

#include <netkit/plugin.h>

/* Decimal integer (optional sign) in [min, max]. */
const char *nk__parse_int(const char *s, long long min, long long max,
                          long long *out);

/* Like nk__parse_int with an optional suffix k/K (1024) or M (1024^2); G
 * (1024^3) is accepted too.  The range applies after multiplying. */
const char *nk__parse_size(const char *s, long long min, long long max,
                           long long *out);

/* 1/0, true/false, yes/no, on/off (case-insensitive). */
const char *nk__parse_bool(const char *s, int *out);

/* One of `choices` ("little|big"), case ignored; *index is its position. */
const char *nk__parse_enum(const char *s, const char *choices,
                           long long *index);

/* Seconds, a non-negative decimal number ("300", "0.5") up to 1e6. */
const char *nk__parse_seconds(const char *s, double *out);

/*
 * The one rule for every value a user or a plugin writes -- a config value,
 * an -O or -o value on the command line, a plugin option's default: a value
 * that starts with '"' must end with the matching '"' and may hold
 * \n \t \r \\ \" \0 \xHH escapes; any other value is taken as is.
 * On success *out is a new NUL-terminated buffer (nk__free it) of *len bytes.
 */
const char *nk__unquote(const char *s, char **out, size_t *len);

/*
 * The opposite, for showing a string value: s[0..len) in double quotes,
 * with \n \t \r \\ \" \0 and \xHH for other bytes that are not
 * printable ASCII, and \x3b for a ';' after a blank (which would start a
 * comment in the config file).  nk__unquote of the result gives s back.
 * Cut with "..." to fit size (at least 8).  Returns out.
 */
char *nk__quote(const char *s, size_t len, char *out, size_t size);

/* Parse text for one plugin option into v (v->str points into a new buffer
 * the caller frees with nk__free((char *)v->str)). */
const char *nk__parse_option(const struct nk_option *opt, const char *text,
                             size_t len, struct nk_value *v);

/* Levenshtein distance, for "did you mean ...?" suggestions. */
int nk__edit_distance(const char *a, const char *b);

#endif /* NK_CORE_VALUE_H */
