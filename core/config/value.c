/*
 * value.c -- parsers for every value a user writes.  See value.h.
 *
 * Every parser is strict: the whole text must be the value, with no leading
 * or trailing blanks, no hexadecimal or exponent forms, and no silent
 * wrap-around.  A parser that fails leaves its output untouched.
 */
#include "config/value.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"

/* The longest piece of user text quoted back in a phrase; a longer value is
 * cut with "..." so one message stays one readable line. */
#define VALUE_ECHO_MAX 40

/* The largest number of seconds nk__parse_seconds accepts (about 11 days). */
#define VALUE_SECONDS_MAX 1000000.0

/* The phrase of the last failed call in this thread (see value.h). */
static _Thread_local char value_msg[192];

static const char *value_phrase(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Format a phrase into value_msg and return it. */
static const char *
value_phrase(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value_msg, sizeof(value_msg), fmt, ap);
    va_end(ap);
    return value_msg;
}

/* Write at most VALUE_ECHO_MAX bytes of s into buf for quoting it back,
 * control bytes as \xHH: a message stays one line (a -o value may hold a
 * newline). */
static const char *
value_echo(const char *s, char *buf, size_t size)
{
    size_t n = 0, i;

    for (i = 0; s[i] != '\0' && i < VALUE_ECHO_MAX && n + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
    if (s[i] != '\0' && n + 4 <= size)
        memcpy(buf + n, "...", 4);
    return buf;
}

static const char *
value_invalid(const char *what, const char *s)
{
    char echo[VALUE_ECHO_MAX * 4 + 4];

    return value_phrase("invalid %s '%s'", what,
                        value_echo(s, echo, sizeof(echo)));
}

static const char *
value_range(long long min, long long max)
{
    return value_phrase("out of range %lld..%lld", min, max);
}

/*
 * Read an optional sign and decimal digits from s into *out, stopping at
 * the first non-digit (*end).  Returns 0, -1 when there is no digit at all,
 * or 1 when the magnitude does not fit a long long (then *out is the
 * saturated value, so the caller can still say "out of range").
 */
static int
value_digits(const char *s, long long *out, const char **end)
{
    int neg = 0, over = 0;
    unsigned long long mag = 0;
    const unsigned long long lim = (unsigned long long)LLONG_MAX + 1;
    const char *p = s;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');

        if (mag > (lim - d) / 10)
            over = 1;
        else
            mag = mag * 10 + d;
    }
    *end = p;
    if (over || (!neg && mag > (unsigned long long)LLONG_MAX)) {
        *out = neg ? LLONG_MIN : LLONG_MAX;
        return 1;
    }
    /* -mag is LLONG_MIN exactly when mag == LLONG_MAX + 1: negate in
     * unsigned arithmetic, then convert, to avoid signed overflow. */
    *out = neg ? (mag == lim ? LLONG_MIN : -(long long)mag) : (long long)mag;
    return 0;
}

const char *
nk__parse_int(const char *s, long long min, long long max, long long *out)
{
    const char *end = s;
    long long n = 0;
    int rc = value_digits(s, &n, &end);

    if (rc < 0 || *end != '\0')
        return value_invalid("number", s);
    if (rc > 0 || n < min || n > max)
        return value_range(min, max);
    *out = n;
    return NULL;
}

/* The multiplier of a size suffix, or 0 for an unknown one. */
static long long
value_suffix(const char *sfx)
{
    if (strcmp(sfx, "") == 0)
        return 1;
    if (strcmp(sfx, "k") == 0 || strcmp(sfx, "K") == 0)
        return 1024LL;
    if (strcmp(sfx, "M") == 0)
        return 1024LL * 1024;
    if (strcmp(sfx, "G") == 0)
        return 1024LL * 1024 * 1024;
    return 0;
}

const char *
nk__parse_size(const char *s, long long min, long long max, long long *out)
{
    const char *end = s;
    long long n = 0, mult;
    int rc = value_digits(s, &n, &end);

    if (rc < 0 || (mult = value_suffix(end)) == 0) {
        char echo[VALUE_ECHO_MAX * 4 + 4];

        return value_phrase("invalid size '%s' (a number, optionally "
                            "followed by k, M or G)",
                            value_echo(s, echo, sizeof(echo)));
    }
    /* Check before multiplying: the product must not overflow. */
    if (rc > 0 || n > LLONG_MAX / mult || n < LLONG_MIN / mult)
        return value_range(min, max);
    n *= mult;
    if (n < min || n > max)
        return value_range(min, max);
    *out = n;
    return NULL;
}

const char *
nk__parse_bool(const char *s, int *out)
{
    static const char *const words[] = {"0",  "1",   "false", "true",
                                        "no", "yes", "off",   "on"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(s, words[i]) == 0) {
            *out = (int)(i % 2);
            return NULL;
        }
    }
    return "expected a boolean (1/0, true/false, yes/no, on/off)";
}

/*
 * Choices are matched ignoring case, like booleans, so "TCP" and "Big" work;
 * the index returned is the choice's position in the '|' list.
 */
const char *
nk__parse_enum(const char *s, const char *choices, long long *index)
{
    const char *p = choices;
    size_t len = strlen(s);
    long long i = 0;

    while (len > 0) {
        size_t n = strcspn(p, "|");

        if (n == len && strncasecmp(p, s, n) == 0) {
            *index = i;
            return NULL;
        }
        if (p[n] == '\0')
            break;
        p += n + 1;
        i++;
    }
    return value_phrase("expected one of %s", choices);
}

/*
 * Digits with an optional fraction, read by hand rather than with strtod:
 * strtod also takes "inf", "nan", hex floats, exponents and leading blanks,
 * and follows the locale's decimal point.
 */
const char *
nk__parse_seconds(const char *s, double *out)
{
    const char *p = s;
    double v = 0.0, scale = 1.0;
    int digits = 0;

    for (; isdigit((unsigned char)*p); p++, digits++)
        if (v <= VALUE_SECONDS_MAX) /* past the limit it only gets bigger */
            v = v * 10.0 + (*p - '0');
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, digits++) {
            scale /= 10.0;
            v += (*p - '0') * scale;
        }
    }
    if (digits == 0 || *p != '\0')
        return value_invalid("number of seconds", s);
    if (v > VALUE_SECONDS_MAX)
        return value_phrase("out of range 0..%.0f", VALUE_SECONDS_MAX);
    *out = v;
    return NULL;
}

static int
value_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decode one escape starting after the backslash at *pp into *c and move
 * *pp past it.  Returns NULL or a phrase ("bad escape '\q'").
 */
static const char *
value_escape(const char **pp, char *c)
{
    const char *p = *pp;
    int hi, lo;

    switch (*p) {
    case 'n':
        *c = '\n';
        break;
    case 't':
        *c = '\t';
        break;
    case 'r':
        *c = '\r';
        break;
    case '0':
        *c = '\0';
        break;
    case '\\':
        *c = '\\';
        break;
    case '"':
        *c = '"';
        break;
    case 'x':
        hi = value_hex((unsigned char)p[1]);
        lo = hi < 0 ? -1 : value_hex((unsigned char)p[2]);
        if (lo < 0)
            return "bad escape '\\x' (expected two hex digits, as in \\x3b)";
        *c = (char)(hi * 16 + lo);
        p += 2;
        break;
    case '\0':
        return "unterminated quote";
    default:
        if (isprint((unsigned char)*p))
            return value_phrase("bad escape '\\%c'", *p);
        return value_phrase("bad escape: '\\' before byte 0x%02x",
                            (unsigned char)*p);
    }
    *pp = p + 1;
    return NULL;
}

/*
 * The unquoted text is never longer than the quoted one, so one buffer of
 * strlen(s) + 1 bytes holds it, NULs from \0 included.
 */
const char *
nk__unquote(const char *s, char **out, size_t *len)
{
    const char *p = s + 1, *why;
    char *buf, *w;

    if (s[0] != '"') {
        if ((buf = nk__strdup(s)) == NULL)
            return "out of memory";
        *out = buf;
        *len = strlen(s);
        return NULL;
    }
    if ((buf = nk__malloc(strlen(s) + 1)) == NULL)
        return "out of memory";
    for (w = buf; *p != '"'; w++) {
        if (*p == '\0') {
            why = "unterminated quote";
            goto fail;
        }
        if (*p != '\\') {
            *w = *p++;
            continue;
        }
        p++;
        if ((why = value_escape(&p, w)) != NULL)
            goto fail;
    }
    if (p[1] != '\0') {
        why = "text after closing quote";
        goto fail;
    }
    *w = '\0';
    *out = buf;
    *len = (size_t)(w - buf);
    return NULL;
fail:
    nk__free(buf);
    return why;
}

char *
nk__quote(const char *s, size_t len, char *out, size_t size)
{
    size_t n = 0;

    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];

        switch (c) {
        case '\n':
            snprintf(esc, sizeof(esc), "\\n");
            break;
        case '\t':
            snprintf(esc, sizeof(esc), "\\t");
            break;
        case '\r':
            snprintf(esc, sizeof(esc), "\\r");
            break;
        case '\0':
            snprintf(esc, sizeof(esc), "\\0");
            break;
        case '\\':
        case '"':
            snprintf(esc, sizeof(esc), "\\%c", c);
            break;
        default:
            if (c == ';' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
                snprintf(esc, sizeof(esc), "\\x3b");
            else if (c < 0x20 || c >= 0x7f)
                snprintf(esc, sizeof(esc), "\\x%02x", c);
            else
                snprintf(esc, sizeof(esc), "%c", c);
        }
        /* Keep n <= size - 5: room for "..." and NUL after any byte. */
        if (n + strlen(esc) + 5 > size) {
            memcpy(out + n, "...", 4);
            return out;
        }
        memcpy(out + n, esc, strlen(esc));
        n += strlen(esc);
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* See value.h.  On failure v is left untouched and nothing is allocated. */
const char *
nk__parse_option(const struct nk_option *opt, const char *text, size_t len,
                 struct nk_value *v)
{
    struct nk_value r = {NULL, len, 0};
    const char *why = NULL;
    char *buf = nk__memdup(text, len);
    int b;

    if (buf == NULL)
        return "out of memory";
    /* Only strings may hold NUL bytes: a number with a NUL would otherwise
     * be read up to the NUL and the rest ignored. */
    if (opt->type != NK_OPT_STRING && strlen(buf) != len) {
        nk__free(buf);
        return "value holds a NUL byte";
    }
    switch (opt->type) {
    case NK_OPT_STRING:
        break;
    case NK_OPT_INT:
        why = nk__parse_int(buf, opt->min, opt->max, &r.num);
        break;
    case NK_OPT_SIZE:
        why = nk__parse_size(buf, opt->min, opt->max, &r.num);
        break;
    case NK_OPT_BOOL:
        if ((why = nk__parse_bool(buf, &b)) == NULL)
            r.num = b;
        break;
    case NK_OPT_ENUM:
        why = nk__parse_enum(buf, opt->choices != NULL ? opt->choices : "",
                             &r.num);
        break;
    default:
        why = value_phrase("unknown option type %d", (int)opt->type);
        break;
    }
    if (why != NULL) {
        nk__free(buf);
        return why;
    }
    r.str = buf;
    *v = r;
    return NULL;
}

/*
 * Levenshtein distance with two rows of the shorter string's length + 1.
 * Names compared here are short, so the rows live on the stack up to 64
 * bytes; a longer string is simply too far from any name to suggest.
 */
int
nk__edit_distance(const char *a, const char *b)
{
    int prev[65], cur[65];
    size_t la = strlen(a), lb = strlen(b);

    if (lb > 64 || la > 64)
        return INT_MAX / 2;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int low = sub < del ? sub : del;

            cur[j] = low < ins ? low : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(cur[0]));
    }
    return prev[lb];
}
