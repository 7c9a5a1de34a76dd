/* entry_line.c -- plugins/line.c with its entry symbol renamed line_entry, so
 * that one test program (test_kit_line.c) can hold two plugins. */
#define nk_plugin_entry line_entry
#include "../../plugins/line.c"
