/*
 * check.h -- `netkit check NAME`: a conformance run of a plugin's codec.
 *
 * Each case prints one line, "ok   CASE: detail", "FAIL CASE: what went
 * wrong" or "skip CASE: why it does not apply", in this order:
 *
 *   load              the plugin loads (first in a child process, so a
 *                     constructor that crashes is a failing case)
 *   defaults          every option default parses
 *   create            create succeeds with the options given, and sets a
 *                     max_message
 *   round-trip        for payloads of many sizes, encode's head + payload +
 *                     tail decodes back to the same payload, whole
 *   split-invariance  a stream of many messages decodes to the same
 *                     messages whole, one byte at a time and under random
 *                     splits (fixed seeds); skipped for a codec that takes
 *                     the whole buffer as one message (raw)
 *   stateless         the same bytes give the same answer, whatever was
 *                     decoded in between
 *   need-monotonic    while one message arrives byte by byte, need never
 *                     shrinks, is the message's length once known, and
 *                     never passes max_message
 *   empty-message     a message with an empty payload round-trips
 *   max-message       a message of max_message bytes round-trips
 *   over-max          a message one byte over max_message is never decoded
 *                     from the bytes the host would buffer
 *   random-bytes      random and mutated input never crashes, overruns the
 *                     buffer (a guard page follows it) or breaks the
 *                     contract
 *   samples           each --sample FILE (whole messages as the role's
 *                     decode reads them) decodes whole with nothing left,
 *                     and to the same messages byte by byte and at random
 *                     splits; skipped without --sample
 *
 * --role serve|connect creates the instance in that role (nk_setup.role),
 * so a codec whose requests and replies differ (HTTP, RESP's inline
 * commands) is checked at its real settings in each direction, with
 * samples of that direction's traffic.
 *
 * Every decode runs under the host's guards: the result is at most the
 * bytes given, the payload lies inside the message, a 0-byte message only
 * for an empty datagram, NK_ENEEDMORE with a need larger than what is
 * there.  Every case that calls the plugin runs in its own child process,
 * so a crash or a hang is that case failing, not the end of the run.
 */
#ifndef NK_CORE_CHECK_H
#define NK_CORE_CHECK_H

#include <stdio.h>

#include "base/err.h"
#include "config/settings.h"

/*
 * Run every case on the plugin s->plugins_name, with the options of its
 * [plugin.NAME] section and -O, over s->cli.transport, printing to out.
 * Returns 0 when every case passes or is skipped; -1 with err status 1
 * naming the failing cases, or status 2 for a usage error (unknown plugin,
 * bad -O).
 */
int nk__check_run(const struct nk__settings *s, FILE *out, struct nk_err *err);

#endif /* NK_CORE_CHECK_H */
