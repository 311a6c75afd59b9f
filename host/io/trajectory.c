#include "io/trajectory.h"
#include "core/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void expert_dir(char *out, size_t n, const char *buffer_path, const DatasetInfo *ds, const char *subset, int res,
                int zca, const char *model) {
    if (strcmp(ds->name, "ImageNet") == 0)
        snprintf(out, n, "%s/%s/%s/%d/%s", buffer_path, ds->name, subset, res, model);
    else {
        /* As the original: the folder is the --dataset spelling, and only the exact names
         * get the suffix (--dataset CIFAR100xyz, read as CIFAR-100, writes CIFAR100xyz/). */
        const char *dname = ds->given_name ? ds->given_name : ds->name;
        int suffix = ds->no_zca_suffix && !zca && strcmp(dname, ds->name) == 0;
        snprintf(out, n, "%s/%s%s/%s", buffer_path, dname, suffix ? "_NO_ZCA" : "", model);
    }
}

void trajectory_path(char *out, size_t n, const char *dir, int i) {
    snprintf(out, n, "%s/replay_buffer_%d.safetensors", dir, i);
}

void traj_writer_begin(TrajWriter *w, const char *dir, int snapshots, const Net *net, int capacity) {
    memset(w, 0, sizeof *w);
    mkdir_p(dir);
    size_t nparams = net->ndense;
    w->net = net;
    w->snapshots = snapshots;
    w->nparams = nparams;
    w->capacity = capacity;
    w->data = xmalloc((size_t)capacity * snapshots * nparams * sizeof(float));
    /* Claim the smallest free index with an exclusive create, so concurrent runs into
     * the same folder never pick the same file. */
    for (int i = 0;; i++) {
        trajectory_path(w->path, sizeof w->path, dir, i);
        if (file_exists(w->path)) continue;
        FILE *f = fopen(w->path, "wx");
        if (f) { fclose(f); break; }
        if (errno != EEXIST) die("cannot create %s: %s", w->path, strerror(errno));
    }
}

void traj_writer_meta(TrajWriter *w, const char *key, const char *value) {
    w->meta_kv = xrealloc(w->meta_kv, (size_t)(w->nmeta + 1) * 2 * sizeof(char *));
    w->meta_kv[2 * w->nmeta] = xstrdup(key);
    w->meta_kv[2 * w->nmeta + 1] = xstrdup(value);
    w->nmeta++;
}

void traj_writer_add(TrajWriter *w, const float *snaps) {
    if (w->experts == w->capacity) die("internal: trajectory group is full");
    size_t one = (size_t)w->snapshots * w->nparams;
    for (int k = 0; k < w->snapshots; k++)
        net_pack(w->net, snaps + (size_t)k * w->net->nparams, w->data + (size_t)w->experts * one + (size_t)k * w->nparams);
    w->experts++;
    StWriter *sw = st_writer_new();
    int64_t shape[3] = {w->experts, w->snapshots, (int64_t)w->nparams};
    st_writer_add(sw, "trajectories", DT_F32, 3, shape, w->data);
    for (int i = 0; i < w->nmeta; i++) st_writer_meta(sw, w->meta_kv[2 * i], w->meta_kv[2 * i + 1]);
    st_writer_save(sw, w->path);
    st_writer_free(sw);
}

void traj_writer_end(TrajWriter *w) {
    /* A claimed name that never received an expert is released again. */
    if (w->experts == 0 && w->path[0]) unlink(w->path);
    for (int i = 0; i < 2 * w->nmeta; i++) free(w->meta_kv[i]);
    free(w->meta_kv);
    free(w->data);
    memset(w, 0, sizeof *w);
}

static void expect_meta(const TrajFile *t, const char *path, const char *key, const char *want) {
    const char *got = st_meta(&t->file, key);
    if (!got) die("%s: metadata '%s' is missing (not a clmtt trajectory file?)", path, key);
    if (strcmp(got, want) != 0)
        die("%s: this file holds %s = %s, but the run asks for %s = %s", path, key, got, key, want);
}

void traj_open(TrajFile *t, const char *path, const Net *net, const char *dataset, int zca) {
    memset(t, 0, sizeof *t);
    st_open_or_die(path, &t->file);
    expect_meta(t, path, "format", TRAJ_FORMAT);
    expect_meta(t, path, "model", net->model);
    expect_meta(t, path, "dataset", dataset);
    char buf[32];
    snprintf(buf, sizeof buf, "%d", net->channels);
    expect_meta(t, path, "channel", buf);
    snprintf(buf, sizeof buf, "%d", net->height);
    expect_meta(t, path, "height", buf);
    snprintf(buf, sizeof buf, "%d", net->width);
    expect_meta(t, path, "width", buf);
    snprintf(buf, sizeof buf, "%d", net->num_classes);
    expect_meta(t, path, "num_classes", buf);
    expect_meta(t, path, "zca", zca ? "true" : "false");
    const StTensor *tr = st_find(&t->file, "trajectories");
    if (!tr) die("%s: no tensor named 'trajectories'", path);
    if (tr->dtype != DT_F32 || tr->ndim != 3)
        die("%s: 'trajectories' must be F32 with 3 dimensions [experts, snapshots, parameters]", path);
    if ((size_t)tr->shape[2] != net->ndense)
        die("%s: trajectories hold %lld parameters per snapshot, but %s has %zu", path, (long long)tr->shape[2],
            net->model, net->ndense);
    if (tr->shape[0] < 1 || tr->shape[1] < 2) die("%s: trajectories are empty", path);
    /* Snapshots are used in place from the mapping, which needs float alignment. */
    if ((uintptr_t)tr->data % sizeof(float)) die("%s: 'trajectories' data is not 4-byte aligned in the file", path);
    t->experts = (int)tr->shape[0];
    t->snapshots = (int)tr->shape[1];
    t->net = net;
    t->nparams = net->ndense;
    t->data = tr->data;
}

void traj_read(const TrajFile *t, int expert, int snap, float *params) {
    if (expert < 0 || expert >= t->experts || snap < 0 || snap >= t->snapshots)
        die("internal: snapshot %d of expert %d is outside the file (%d experts, %d snapshots)", snap, expert,
            t->experts, t->snapshots);
    net_unpack(t->net, t->data + ((size_t)expert * (size_t)t->snapshots + (size_t)snap) * t->nparams, params);
}

void traj_close(TrajFile *t) {
    st_close(&t->file);
    memset(t, 0, sizeof *t);
}
