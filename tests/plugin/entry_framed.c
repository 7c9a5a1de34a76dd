/* entry_framed.c -- plugins/framed.c with its entry symbol renamed
 * framed_entry, so that one test program (test_kit_line.c) can hold two
 * plugins. */
#define nk_plugin_entry framed_entry
#include "../../plugins/framed.c"
