/*
 * Fixture "swap", build B: the same plugin as version_a.c answering "B\n".
 * Including the A source keeps the two builds identical but for the answer,
 * so a test that sees "B" knows the new file's code is the one running.
 */
#define SWAP_ANSWER "B"
#include "version_a.c"
