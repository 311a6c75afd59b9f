/* clmtt: dataset distillation by matching training trajectories, on OpenCL. */
#include "cli/commands.h"
#include "core/dist.h"
#include "core/util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"buffer", cmd_buffer, "train expert networks on real data and save their trajectories (buffer.py)"},
    {"distill", cmd_distill, "distill a synthetic set by matching expert trajectories (distill.py)"},
    {"eval", cmd_eval, "train fresh networks on a synthetic or random real set and report test accuracy"},
    {"info", cmd_info, "describe and check trajectory, set and ZCA files; print a model's parameter layout (--model, --dataset)"},
    {"report", cmd_report, "sum up a distill run folder (settings, accuracies, time, memory) and draw curves.png and evolution.gif"},
    {"bench", cmd_bench, "measure training speed and distillation time and memory on random data (no dataset needed)"},
    {"devices", cmd_devices, "list the OpenCL devices clmtt can use (choose one with --device N or CLMTT_DEVICE=N)"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(void) {
    printf("clmtt %s: dataset distillation by matching training trajectories, on any OpenCL device\n\n"
           "usage: clmtt <command> [flags]    (clmtt <command> --help lists a command's flags)\n\ncommands:\n",
           CLMTT_VERSION);
    for (int i = 0; i < NCOMMANDS; i++) printf("  %-9s %s\n", commands[i].name, commands[i].summary);
    printf("\nenvironment: CLMTT_DEVICE=N picks a device; CLMTT_KERNEL_DIR=path loads cl/*.cl from path;\n"
           "compiled kernels are cached in $XDG_CACHE_HOME/clmtt (default ~/.cache/clmtt).\n");
}

int main(int argc, char **argv) {
    /* First: under an MPI launcher this joins the job (and silences stdout on ranks > 0). */
    dist_init(&argc, &argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Past a file size limit (ulimit -f) a write then fails with EFBIG, and the message
     * names the file, instead of the process dying of the signal mid-write. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("clmtt %s\n", CLMTT_VERSION);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    die("unknown command '%s' (see 'clmtt --help')", argv[1]);
}
