/* Choosing expert trajectories for distillation, as the original does (docs/algorithm.md#choosing-experts).
 * Streaming (default): a shuffled list of files (cut to max_files); each file's experts
 * (cut to max_experts) are shuffled and used in turn; after the last expert the next file
 * is opened, and after the last file the list is reshuffled. --load_all: every expert of
 * every file, one drawn uniformly at random per iteration. Files are memory-mapped, so
 * "loading" a file costs no copy; a snapshot is copied out when it is used. */
#ifndef CLMTT_EXPERTS_H
#define CLMTT_EXPERTS_H

#include "core/rng.h"
#include "io/trajectory.h"

typedef struct {
    char dir[4096];
    const Net *net;
    const char *dataset;
    int zca;
    int nfiles;            /* replay_buffer_0 .. nfiles-1 */
    int *files;            /* the (shuffled, cut) file list */
    int nlist;
    int file_pos;
    int max_experts, load_all;
    TrajFile cur;          /* streaming: the open file */
    int cur_file;
    int *order;            /* streaming: shuffled expert indices of cur */
    int norder, expert_pos;
    TrajFile *all;         /* load_all: every file */
    int total_experts;
    int snapshots;         /* the smallest snapshot count over the files seen */
} ExpertSource;

/* Opens the source; dies saying where it looked when no file is found. */
void experts_open(ExpertSource *s, const char *dir, const Net *net, const char *dataset, int zca, int max_files,
                  int max_experts, int load_all, Rng *rng);
/* One expert's trajectory; its file stays open until the next experts_next call. */
typedef struct {
    const TrajFile *file;
    int index;             /* the expert's index in the file */
    int snapshots;
} Expert;
/* The next trajectory. */
Expert experts_next(ExpertSource *s, Rng *rng);
/* Snapshot `snap` of e into params[net->nparams] (clmtt's layout). */
static inline void expert_snapshot(const Expert *e, int snap, float *params) {
    traj_read(e->file, e->index, snap, params);
}
void experts_close(ExpertSource *s);

#endif
