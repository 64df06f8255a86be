/*
 * lens_command.h - the `loupe lens` subcommand (cmd_lens.c).
 */
#ifndef LOUPE_LENS_COMMAND_H
#define LOUPE_LENS_COMMAND_H

/* `loupe lens`: argc/argv start at the subcommand's name. */
int cmd_lens(int argc, char **argv);

#endif
