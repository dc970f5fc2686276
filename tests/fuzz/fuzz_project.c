/* fuzz_project.c — the project file (app/core/ssa-project.c): ssa_project_from_data. An
 * accepted project must (1) serialise, (2) read back, (3) serialise to the same bytes, and
 * (4) survive undoing its whole stored history and redoing it: the reader promises to have
 * validated the history, so no GLib critical may fire (criticals are made fatal here). */
#include "fuzz-util.h"
#include "ssa-project.h"

#define NAME "fuzz-project.json"
#define BASE "/nonexistent-fuzz-base"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    return 0;
}

static void check_error(GError *e, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(e != NULL && e->message != NULL);
    FUZZ_CHECK(g_str_has_prefix(e->message, NAME));
    FUZZ_CHECK(fuzz_one_line(e->message, data, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *e = NULL;
    SsaDocument *doc = ssa_project_from_data((const char *)data, size, NAME, BASE, &e);
    if (!doc) {
        check_error(e, data, size);
        g_clear_error(&e);
        return 0;
    }
    gsize len1 = 0, len2 = 0;
    char *out1 = ssa_project_to_data(doc, BASE, &len1);
    FUZZ_CHECK(out1 != NULL);
    SsaDocument *doc2 = ssa_project_from_data(out1, len1, NAME, BASE, &e);
    if (!doc2) {
        fprintf(stderr, "re-reading a written project failed: %s\n", e ? e->message : "?");
        FUZZ_CHECK(doc2 != NULL);
    }
    char *out2 = ssa_project_to_data(doc2, BASE, &len2);
    FUZZ_CHECK(len1 == len2 && memcmp(out1, out2, len1) == 0);
    g_free(out2);
    g_object_unref(doc2);

    /* the stored history: undo it all, then redo it all */
    guint n_undo = ssa_document_get_undo_depth(doc), n_redo = ssa_document_get_redo_depth(doc);
    for (guint i = 0; i < n_undo + 1 && ssa_document_can_undo(doc); i++) (void)ssa_document_undo(doc);
    FUZZ_CHECK(!ssa_document_can_undo(doc));
    for (guint i = 0; i < n_undo + n_redo + 1 && ssa_document_can_redo(doc); i++) (void)ssa_document_redo(doc);
    char *out3 = ssa_project_to_data(doc, BASE, &len2);
    FUZZ_CHECK(out3 != NULL);
    g_free(out3);
    g_free(out1);
    g_object_unref(doc);
    return 0;
}
