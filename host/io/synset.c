#include "io/synset.h"
#include "layers/loss.h"
#include "io/safetensors.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void synset_extras_free(SynExtras *x) {
    for (int i = 0; i < x->ntensors; i++) free(x->t[i].data);
    free(x->label_logits);
    memset(x, 0, sizeof *x);
}

void synset_save(const char *path, const ImageSet *s, double lr, const char *dataset, const char *model, int ipc,
                 int zca, const float *images_zca, const char *const *extra, const SynExtras *more) {
    int64_t *labels = xmalloc((size_t)s->n * sizeof(int64_t));
    for (int i = 0; i < s->n; i++) labels[i] = s->labels[i];
    float lr32 = (float)lr;
    StWriter *w = st_writer_new();
    st_writer_add(w, "images", DT_F32, 4, (int64_t[]){s->n, s->c, s->h, s->w}, s->images);
    if (more && more->label_logits)
        st_writer_add(w, "labels", DT_F32, 2, (int64_t[]){s->n, more->k}, more->label_logits);
    else
        st_writer_add(w, "labels", DT_I64, 1, (int64_t[]){s->n}, labels);
    st_writer_add(w, "lr", DT_F32, 1, (int64_t[]){1}, &lr32);
    if (images_zca) st_writer_add(w, "images_zca", DT_F32, 4, (int64_t[]){s->n, s->c, s->h, s->w}, images_zca);
    char v[64];
    st_writer_meta(w, "format", SYNSET_FORMAT);
    st_writer_meta(w, "dataset", dataset);
    st_writer_meta(w, "model", model);
    snprintf(v, sizeof v, "%d", ipc);
    st_writer_meta(w, "ipc", v);
    st_writer_meta(w, "zca", zca ? "true" : "false");
    if (more && more->label_logits) st_writer_meta(w, "labels", "soft");
    st_writer_meta(w, "generator", "clmtt " CLMTT_VERSION);
    for (int i = 0; extra && extra[i]; i += 2) st_writer_meta(w, extra[i], extra[i + 1]);
    for (int i = 0; more && i < more->ntensors; i++)
        st_writer_add(w, more->t[i].name, more->t[i].dtype, more->t[i].ndim, more->t[i].shape, more->t[i].data);
    for (int i = 0; more && i < more->nmeta; i++) st_writer_meta(w, more->meta[i][0], more->meta[i][1]);
    st_writer_save(w, path);
    st_writer_free(w);
    free(labels);
}

void synset_load(const char *path, SynSet *out) {
    memset(out, 0, sizeof *out);
    StFile f;
    st_open_or_die(path, &f);
    const char *fmt = st_meta(&f, "format");
    if (!fmt || strcmp(fmt, SYNSET_FORMAT) != 0)
        die("%s: not a synthetic set file (metadata format is '%s', expected '%s')", path, fmt ? fmt : "missing",
            SYNSET_FORMAT);
    const StTensor *im = st_find(&f, "images"), *lb = st_find(&f, "labels"), *lr = st_find(&f, "lr");
    if (!im || im->dtype != DT_F32 || im->ndim != 4) die("%s: tensor 'images' must be F32 [N, C, H, W]", path);
    const char *lk = st_meta(&f, "labels");
    int soft = lk && strcmp(lk, "soft") == 0;
    if (soft && (!lb || lb->dtype != DT_F32 || lb->ndim != 2 || lb->shape[0] != im->shape[0] || lb->shape[1] < 1 ||
                 lb->shape[1] > 100000))
        die("%s: a soft-label set (labels = soft) needs tensor 'labels' F32 [N, classes] with N = %lld", path,
            (long long)im->shape[0]);
    if (!soft && (!lb || lb->dtype != DT_I64 || lb->ndim != 1 || lb->shape[0] != im->shape[0]))
        die("%s: tensor 'labels' must be I64 [N] with N = %lld", path, (long long)im->shape[0]);
    if (!lr || lr->dtype != DT_F32 || lr->numel != 1) die("%s: tensor 'lr' must be F32 [1]", path);
    ImageSet *s = &out->set;
    s->n = (int)im->shape[0]; s->c = (int)im->shape[1]; s->h = (int)im->shape[2]; s->w = (int)im->shape[3];
    if (s->n < 1) die("%s: the set is empty", path);
    s->images = xmalloc(im->nbytes);
    memcpy(s->images, im->data, im->nbytes);
    s->labels = xmalloc((size_t)s->n * sizeof(int32_t));
    if (soft) {   /* logits -> argmax labels and softmax target rows */
        int K = (int)lb->shape[1];
        out->label_logits = xmalloc(lb->nbytes);
        memcpy(out->label_logits, lb->data, lb->nbytes);
        s->targets = xmalloc(lb->nbytes);
        s->k = K;
        int bad = ce_softmax_rows(s->targets, s->labels, out->label_logits, s->n, K);
        if (bad >= 0) die("%s: the label logits of row %d are not finite", path, bad);
    }
    /* Tensor data may be unaligned in files from other writers: read through memcpy. */
    for (int i = 0; i < s->n && !soft; i++) {
        int64_t l;
        memcpy(&l, (const char *)lb->data + (size_t)i * 8, 8);
        if (l < 0 || l > 100000) die("%s: label %lld of row %d is out of range", path, (long long)l, i);
        s->labels[i] = (int32_t)l;
    }
    float lr32;
    memcpy(&lr32, lr->data, 4);
    out->lr = lr32;
    const char *v;
    snprintf(out->dataset, sizeof out->dataset, "%s", (v = st_meta(&f, "dataset")) ? v : "");
    snprintf(out->model, sizeof out->model, "%s", (v = st_meta(&f, "model")) ? v : "");
    snprintf(out->subset, sizeof out->subset, "%s", (v = st_meta(&f, "subset")) ? v : "");
    out->ipc = (v = st_meta(&f, "ipc")) ? atoi(v) : 0;
    out->zca = (v = st_meta(&f, "zca")) && strcmp(v, "true") == 0;
    out->texture = (v = st_meta(&f, "texture")) && strcmp(v, "true") == 0;
    if (out->texture) {
        v = st_meta(&f, "canvas_size");
        out->canvas_size = v ? atoi(v) : 0;
        if (out->canvas_size < 1 || s->h % out->canvas_size || s->w % out->canvas_size)
            die("%s: texture set with canvas_size '%s' that does not divide its %dx%d canvases", path, v ? v : "missing",
                s->h, s->w);
        v = st_meta(&f, "canvas_samples");
        out->canvas_samples = v ? atoi(v) : 1;
        if (out->canvas_samples < 1) die("%s: texture set with canvas_samples '%s' (must be at least 1)", path, v);
    }
    v = st_meta(&f, "param");
    if (v && strcmp(v, "freq") == 0) {
        const char *k = st_meta(&f, "freq_dims"), *b = st_meta(&f, "budget_ipc");
        out->freq_dims = k ? atoi(k) : 0;
        out->budget_ipc = b ? atoi(b) : 0;
        const StTensor *fi = st_find(&f, "freq_index");
        if (out->freq_dims < 1 || out->freq_dims > s->h * s->w || out->budget_ipc < 1)
            die("%s: frequency set with freq_dims '%s' and budget_ipc '%s' (need 1 <= freq_dims <= %d, budget_ipc >= 1)",
                path, k ? k : "missing", b ? b : "missing", s->h * s->w);
        if (!fi || fi->dtype != DT_I64 || fi->ndim != 2 || fi->shape[0] != s->c || fi->shape[1] != out->freq_dims)
            die("%s: frequency set without tensor freq_index I64 [%d, %d]", path, s->c, out->freq_dims);
        out->freq_index = xmalloc(fi->nbytes);
        memcpy(out->freq_index, fi->data, fi->nbytes);
        for (size_t i = 0; i < fi->numel; i++)
            if (out->freq_index[i] < 0 || out->freq_index[i] >= (int64_t)s->h * s->w)
                die("%s: freq_index entry %zu (%lld) is not a position of the %dx%d plane", path, i,
                    (long long)out->freq_index[i], s->h, s->w);
    } else if (v && strcmp(v, "pixel") != 0) {
        die("%s: unknown image parameterization param = '%s' (pixel or freq)", path, v);
    }
    st_close(&f);
}

void synset_free(SynSet *s) {
    imageset_free(&s->set);
    free(s->freq_index);
    s->freq_index = NULL;
    free(s->label_logits);
    s->label_logits = NULL;
}

void synset_check_fits(const SynSet *s, const char *path, const DatasetInfo *ds, int zca) {
    if (s->dataset[0] && strcmp(s->dataset, ds->name) != 0)
        die("%s: the set was distilled from %s, but --dataset is %s", path, s->dataset, ds->name);
    if (s->subset[0] && ds->subset && strcmp(s->subset, ds->subset) != 0)
        die("%s: the set was distilled from ImageNet subset %s, but --subset is %s", path, s->subset, ds->subset);
    /* Texture sets (metadata texture = true) hold canvases of canvas_size x the images. */
    int side = s->texture ? s->canvas_size : 1;
    const ImageSet *x = &s->set;
    if (x->c != ds->channels || x->h != side * ds->height || x->w != side * ds->width)
        die("%s: %s are %dx%dx%d, but %s needs %dx%dx%d%s", path, s->texture ? "texture canvases" : "images", x->c, x->h,
            x->w, ds->name, ds->channels, side * ds->height, side * ds->width,
            s->texture ? " (canvas_size x its image size)" : "");
    for (int i = 0; i < x->n; i++)
        if (x->labels[i] >= ds->num_classes)
            die("%s: label %d of row %d is not a class of %s", path, x->labels[i], i, ds->name);
    if (s->label_logits && x->k != ds->num_classes)
        die("%s: soft labels over %d classes, but %s has %d", path, x->k, ds->name, ds->num_classes);
    if (s->zca != zca)
        die("%s: the set was made %s ZCA; pass --zca=%s", path, s->zca ? "with" : "without", s->zca ? "True" : "False");
}
