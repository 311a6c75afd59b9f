#include "train/experts.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void open_index(ExpertSource *s, TrajFile *t, int i) {
    char path[4200];
    trajectory_path(path, sizeof path, s->dir, i);
    traj_open(t, path, s->net, s->dataset, s->zca);
    if (s->snapshots == 0 || t->snapshots < s->snapshots) s->snapshots = t->snapshots;
}

/* Opens the file at the current list position and shuffles its (cut) experts. */
static void load_current(ExpertSource *s, Rng *rng) {
    int want = s->files[s->file_pos];
    if (!(s->cur.data && s->cur_file == want)) {
        if (s->cur.data) traj_close(&s->cur);
        open_index(s, &s->cur, want);
        s->cur_file = want;
    }
    int n = s->cur.experts;
    if (s->max_experts > 0 && s->max_experts < n) n = s->max_experts;
    free(s->order);
    s->order = xmalloc((size_t)n * sizeof(int));
    rng_perm(rng, s->order, n);
    s->norder = n;
    s->expert_pos = 0;
}

void experts_open(ExpertSource *s, const char *dir, const Net *net, const char *dataset, int zca, int max_files,
                  int max_experts, int load_all, Rng *rng) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->net = net;
    s->dataset = dataset;
    s->zca = zca;
    s->max_experts = max_experts;
    s->load_all = load_all;
    s->cur_file = -1;
    /* Files are replay_buffer_0, 1, ... up to the first missing index. An empty file is a
     * name claimed by a buffer run still on (or killed during) its first expert there. */
    char path[4200];
    int *ids = NULL;
    for (int i = 0;; i++) {
        trajectory_path(path, sizeof path, dir, i);
        struct stat st;
        if (stat(path, &st) != 0) break;
        if (st.st_size == 0) {
            warn("%s is empty (a 'clmtt buffer' run still working on it, or one that was interrupted): skipped", path);
            continue;
        }
        ids = xrealloc(ids, (size_t)(s->nfiles + 1) * sizeof(int));
        ids[s->nfiles++] = i;
    }
    if (s->nfiles == 0) {
        trajectory_path(path, sizeof path, dir, 0);
        die("no expert trajectories found: looked for %s (train experts first with 'clmtt buffer' using the same "
            "--dataset, --model, --zca and --buffer_path)", path);
    }
    if (load_all) {
        s->files = ids;
        s->all = xcalloc((size_t)s->nfiles, sizeof(TrajFile));
        for (int i = 0; i < s->nfiles; i++) {
            open_index(s, &s->all[i], ids[i]);
            s->total_experts += s->all[i].experts;
        }
        return;
    }
    int *perm = xmalloc((size_t)s->nfiles * sizeof(int));
    rng_perm(rng, perm, s->nfiles);
    s->files = xmalloc((size_t)s->nfiles * sizeof(int));
    for (int i = 0; i < s->nfiles; i++) s->files[i] = ids[perm[i]];
    free(perm);
    free(ids);
    s->nlist = max_files > 0 && max_files < s->nfiles ? max_files : s->nfiles;
    /* Every file in use is checked now, so that the snapshot count the caller validates
     * against is the smallest of all of them, not only of the first file opened. */
    for (int i = 0; i < s->nlist; i++) {
        TrajFile t;
        open_index(s, &t, s->files[i]);
        traj_close(&t);
    }
    s->file_pos = 0;
    load_current(s, rng);
}

Expert experts_next(ExpertSource *s, Rng *rng) {
    if (s->load_all) {
        int k = rng_int(rng, 0, s->total_experts - 1);
        for (int i = 0; i < s->nfiles; i++) {
            if (k < s->all[i].experts) return (Expert){&s->all[i], k, s->all[i].snapshots};
            k -= s->all[i].experts;
        }
    }
    if (s->expert_pos < 0) load_current(s, rng);
    Expert t = {&s->cur, s->order[s->expert_pos], s->cur.snapshots};
    s->expert_pos++;
    if (s->expert_pos == s->norder) {
        /* The original advances right after the last expert of a file is taken. The mapping
         * of the file just used stays valid until the next call opens another one. */
        s->file_pos++;
        if (s->file_pos == s->nlist) {
            s->file_pos = 0;
            int *perm = xmalloc((size_t)s->nlist * sizeof(int));
            rng_perm(rng, perm, s->nlist);
            int *shuffled = xmalloc((size_t)s->nlist * sizeof(int));
            for (int i = 0; i < s->nlist; i++) shuffled[i] = s->files[perm[i]];
            memcpy(s->files, shuffled, (size_t)s->nlist * sizeof(int));
            free(perm);
            free(shuffled);
        }
        s->expert_pos = -1;   /* load lazily on the next call */
    }
    return t;
}

void experts_close(ExpertSource *s) {
    if (s->cur.data) traj_close(&s->cur);
    for (int i = 0; s->all && i < s->nfiles; i++) traj_close(&s->all[i]);
    free(s->all);
    free(s->files);
    free(s->order);
    memset(s, 0, sizeof *s);
}
