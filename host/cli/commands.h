/* The subcommands of the clmtt binary; each returns the process exit status. */
#ifndef CLMTT_COMMANDS_H
#define CLMTT_COMMANDS_H

int cmd_devices(int argc, char **argv);
int cmd_buffer(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
