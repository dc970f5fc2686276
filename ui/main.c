/* main.c — stablesam-annotate [DIR | IMAGE...] [--project FILE] */
#include "ssa-application.h"
#include "ssa-memory.h"

int
main(int argc, char **argv)
{
    ssa_memory_tune();
    g_autoptr(SsaApplication) app = ssa_application_new();
    return g_application_run(G_APPLICATION(app), argc, argv);
}
