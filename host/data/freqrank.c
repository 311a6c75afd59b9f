/* DCT coefficient ranking by variance over the training images, and its cache. */
#include "data/freqrank.h"
#include "core/util.h"
#include "io/safetensors.h"
#include "layers/dct2d.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const FreqRank *sort_rank;
static int sort_channel;

/* Larger variance first; ties by position, so the order is the same everywhere. */
static int by_variance(const void *a, const void *b) {
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    size_t hw = (size_t)sort_rank->h * sort_rank->w;
    float vi = sort_rank->variance[sort_channel * hw + i], vj = sort_rank->variance[sort_channel * hw + j];
    if (vi != vj) return vi > vj ? -1 : 1;
    return i < j ? -1 : i > j;
}

static void rank_order(FreqRank *r) {
    size_t hw = (size_t)r->h * r->w;
    for (int c = 0; c < r->c; c++) {
        for (size_t p = 0; p < hw; p++) r->order[c * hw + p] = (int64_t)p;
        sort_rank = r;
        sort_channel = c;
        qsort(r->order + c * hw, hw, sizeof(int64_t), by_variance);
    }
}

void freqrank_fit(const ImageSet *train, FreqRank *out) {
    if (train->n < 2) die("frequency ranking: needs at least 2 training images, got %d", train->n);
    int C = train->c, H = train->h, W = train->w;
    size_t hw = (size_t)H * W;
    double *sum = xcalloc((size_t)C * hw, sizeof(double)), *sq = xcalloc((size_t)C * hw, sizeof(double));
    double *x = xmalloc((size_t)C * hw * sizeof(double)), *X = xmalloc((size_t)C * hw * sizeof(double));
    for (int i = 0; i < train->n; i++) {
        const float *img = train->images + (size_t)i * C * hw;
        for (size_t e = 0; e < (size_t)C * hw; e++) x[e] = img[e];
        dct2d_forward_ref(H, W, C, X, x);
        for (size_t e = 0; e < (size_t)C * hw; e++) { sum[e] += X[e]; sq[e] += X[e] * X[e]; }
    }
    out->c = C; out->h = H; out->w = W;
    out->variance = xmalloc((size_t)C * hw * sizeof(float));
    out->order = xmalloc((size_t)C * hw * sizeof(int64_t));
    for (size_t e = 0; e < (size_t)C * hw; e++) {
        double m = sum[e] / train->n, v = (sq[e] - train->n * m * m) / (train->n - 1);
        out->variance[e] = (float)(v > 0 ? v : 0);
    }
    rank_order(out);
    free(sum); free(sq); free(x); free(X);
}

void freqrank_free(FreqRank *r) {
    free(r->variance);
    free(r->order);
    memset(r, 0, sizeof *r);
}

/* The metadata that must match: name, value pairs. */
enum { KEY_FIELDS = 7 };
static void key_values(const char *dataset, int zca, const ImageSet *t, char v[KEY_FIELDS][2][64]) {
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t bytes = (size_t)t->n * t->c * t->h * t->w * sizeof(float);
    for (size_t off = 0; off < bytes; off += 1u << 30) {
        size_t len = bytes - off < (1u << 30) ? bytes - off : (1u << 30);
        crc = crc32(crc, (const Bytef *)t->images + off, (uInt)len);
    }
    const char *names[KEY_FIELDS] = {"dataset", "channel", "height", "width", "zca", "num_train", "train_crc32"};
    for (int i = 0; i < KEY_FIELDS; i++) snprintf(v[i][0], 64, "%s", names[i]);
    snprintf(v[0][1], 64, "%s", dataset);
    snprintf(v[1][1], 64, "%d", t->c);
    snprintf(v[2][1], 64, "%d", t->h);
    snprintf(v[3][1], 64, "%d", t->w);
    snprintf(v[4][1], 64, "%s", zca ? "true" : "false");
    snprintf(v[5][1], 64, "%d", t->n);
    snprintf(v[6][1], 64, "%08lx", (unsigned long)crc);
}

static void save(const char *path, const FreqRank *r, char key[KEY_FIELDS][2][64]) {
    int64_t shape[2] = {r->c, (int64_t)r->h * r->w};
    StWriter *w = st_writer_new();
    st_writer_add(w, "variance", DT_F32, 2, shape, r->variance);
    st_writer_add(w, "order", DT_I64, 2, shape, r->order);
    st_writer_meta(w, "format", FREQRANK_FORMAT);
    for (int i = 0; i < KEY_FIELDS; i++) st_writer_meta(w, key[i][0], key[i][1]);
    st_writer_meta(w, "generator", "clmtt " CLMTT_VERSION);
    st_writer_save(w, path);
    st_writer_free(w);
}

/* 1: loaded; 0: no file; -1: a file that does not fit, with the reason in err. */
static int load(const char *path, const ImageSet *t, char key[KEY_FIELDS][2][64], FreqRank *out, char *err,
                size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!file_exists(path)) return 0;
    StFile f;
    char e[1024];
    if (st_open(path, &f, e, sizeof e) != 0) {
        snprintf(err, errlen, "the frequency ranking cache %s is unreadable (%s); delete it to fit the ranking again",
                 path, e);
        return -1;
    }
    const char *fmt = st_meta(&f, "format");
    if (!fmt || strcmp(fmt, FREQRANK_FORMAT) != 0) {
        snprintf(err, errlen, "%s is not a frequency ranking cache (format '%s', expected '%s'); delete it or point "
                 "--buffer_path elsewhere", path, fmt ? fmt : "missing", FREQRANK_FORMAT);
        st_close(&f);
        return -1;
    }
    for (int i = 0; i < KEY_FIELDS; i++) {
        const char *got = st_meta(&f, key[i][0]);
        if (!got || strcmp(got, key[i][1]) != 0) {
            snprintf(err, errlen, "%s was fitted on different training data (%s is %s there, %s here); delete it or "
                     "point --buffer_path elsewhere", path, key[i][0], got ? got : "missing", key[i][1]);
            st_close(&f);
            return -1;
        }
    }
    size_t hw = (size_t)t->h * t->w;
    const StTensor *v = st_find(&f, "variance"), *o = st_find(&f, "order");
    if (!v || v->dtype != DT_F32 || v->ndim != 2 || v->shape[0] != t->c || v->shape[1] != (int64_t)hw || !o ||
        o->dtype != DT_I64 || o->ndim != 2 || o->shape[0] != t->c || o->shape[1] != (int64_t)hw) {
        snprintf(err, errlen, "the frequency ranking cache %s is damaged (it needs variance F32 and order I64, both "
                 "[%d, %zu]); delete it to fit the ranking again", path, t->c, hw);
        st_close(&f);
        return -1;
    }
    out->c = t->c; out->h = t->h; out->w = t->w;
    out->variance = xmalloc(v->nbytes);
    out->order = xmalloc(o->nbytes);
    memcpy(out->variance, v->data, v->nbytes);
    memcpy(out->order, o->data, o->nbytes);
    st_close(&f);
    /* Every channel's order must be a permutation of the positions. */
    char *seen = xmalloc(hw);
    for (int c = 0; c < t->c; c++) {
        memset(seen, 0, hw);
        for (size_t p = 0; p < hw; p++) {
            int64_t q = out->order[c * hw + p];
            if (q < 0 || (size_t)q >= hw || seen[q]) {
                snprintf(err, errlen, "the frequency ranking cache %s is damaged (channel %d's order is not a "
                         "permutation); delete it to fit the ranking again", path, c);
                free(seen);
                freqrank_free(out);
                return -1;
            }
            seen[q] = 1;
        }
    }
    free(seen);
    return 1;
}

int freqrank_load(const char *path, const char *dataset, int zca, const ImageSet *t, FreqRank *out, char *err,
                  size_t errlen) {
    char key[KEY_FIELDS][2][64];
    key_values(dataset, zca, t, key);
    return load(path, t, key, out, err, errlen);
}

void freqrank_prepare(const char *cache_dir, const char *dataset, int zca, const ImageSet *train, FreqRank *out) {
    char key[KEY_FIELDS][2][64], path[4300] = "";
    key_values(dataset, zca, train, key);
    if (cache_dir) {
        snprintf(path, sizeof path, "%s/%s", cache_dir, FREQRANK_FILE);
        char err[2048];
        int rc = load(path, train, key, out, err, sizeof err);
        if (rc < 0) die("%s", err);
        if (rc > 0) {
            printf("Frequency ranking: using %s\n", path);
            return;
        }
    }
    double t0 = now_seconds();
    freqrank_fit(train, out);
    printf("Frequency ranking: fitted on %d training images in %.1f s\n", train->n, now_seconds() - t0);
    if (cache_dir) {
        mkdir_p(cache_dir);
        save(path, out, key);
        printf("Frequency ranking: saved %s\n", path);
    }
}
