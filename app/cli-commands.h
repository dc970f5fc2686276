/* cli-commands.h — subcommands of the `stablesam` command line, each in its own file.
 * Each returns the process exit status: 0 ok, 1 error (one line on stderr:
 * "stablesam: FILE: what is wrong"), 2 usage. argv[0] is the subcommand name. */
#ifndef SSA_CLI_COMMANDS_H
#define SSA_CLI_COMMANDS_H
int ssa_cmd_segment(int argc, char **argv);     /* app/cli-segment.c */
int ssa_cmd_bench(int argc, char **argv);       /* app/cli-bench.c */
int ssa_cmd_fetch_model(int argc, char **argv); /* app/cli-fetch.c */
int ssa_cmd_export(int argc, char **argv);      /* app/core/ (document, COCO) */
int ssa_cmd_import(int argc, char **argv);      /* app/core/ */
int ssa_cmd_eval(int argc, char **argv);        /* app/eval/ */
int ssa_cmd_embed(int argc, char **argv);       /* app/eval/ */
#endif
