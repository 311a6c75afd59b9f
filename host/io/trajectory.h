/* Expert trajectory files (replay_buffer_<n>.safetensors): tensor "trajectories" F32
 * [E, S, P] (S = train_epochs + 1 snapshots in PyTorch parameter order) and metadata
 * format = mtt-trajectories/1, model, dataset, channel, height, width, num_classes, zca,
 * lr_teacher, train_epochs, param_layout, plus clmtt's own keys. */
#ifndef CLMTT_TRAJECTORY_H
#define CLMTT_TRAJECTORY_H

#include <stddef.h>

#include "data/dataset.h"
#include "io/safetensors.h"
#include "net/net.h"

#define TRAJ_FORMAT "mtt-trajectories/1"

/* <buffer_path>/<dataset>[_NO_ZCA]/<model> (ImageNet: <dataset>/<subset>/<res>/<model>), docs/formats.md#expert-folder-layout. */
void expert_dir(char *out, size_t n, const char *buffer_path, const DatasetInfo *ds, const char *subset, int res,
                int zca, const char *model);
/* <dir>/replay_buffer_<i>.safetensors */
void trajectory_path(char *out, size_t n, const char *dir, int i);

/* A group of experts written to one file; the file is rewritten after every expert so
 * that an interrupted run loses at most the expert in progress. */
typedef struct {
    char path[4096];
    const Net *net;
    int experts, snapshots;
    size_t nparams;        /* net->ndense: the files' order */
    float *data;           /* experts * snapshots * nparams */
    int capacity;
    char **meta_kv;
    int nmeta;
} TrajWriter;

/* Reserves the next free replay_buffer_<n> name in dir (never overwriting). */
void traj_writer_begin(TrajWriter *w, const char *dir, int snapshots, const Net *net, int capacity);
void traj_writer_meta(TrajWriter *w, const char *key, const char *value);
/* Appends one expert's snapshots [snapshots][net->nparams] (clmtt's layout; the file gets
 * PyTorch's order) and rewrites the file atomically. */
void traj_writer_add(TrajWriter *w, const float *snapshots);
void traj_writer_end(TrajWriter *w);

/* A trajectory file opened for reading, validated against what the caller expects. */
typedef struct {
    StFile file;
    const Net *net;
    int experts, snapshots;
    size_t nparams;        /* net->ndense */
    const float *data;     /* the mapping: [experts][snapshots][nparams] in PyTorch's order */
} TrajFile;

/* Opens and checks format, dtype, shape and metadata (model, dataset, channel, height,
 * width, num_classes, zca); a mismatch is fatal and names the file and the key. */
void traj_open(TrajFile *t, const char *path, const Net *net, const char *dataset, int zca);
void traj_close(TrajFile *t);
/* Snapshot `snap` of `expert` into params[net->nparams], clmtt's layout. */
void traj_read(const TrajFile *t, int expert, int snap, float *params);

#endif
