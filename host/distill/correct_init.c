#include "distill/correct_init.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Candidates forwarded at once while walking a class (DATM's batch as well). */
enum { PICK_BATCH = 256 };

void snapfwd_init(SnapshotForward *f, const Net *net, int max_n) {
    memset(f, 0, sizeof *f);
    f->net = net;
    f->max_n = max_n;
    exec_init(&f->e, net, max_n, 0);
    f->params = dev_alloc(net->nparams * 4, "expert snapshot");
    f->x = dev_alloc((size_t)max_n * net->channels * net->height * net->width * 4, "image batch");
}

void snapfwd_set_params(SnapshotForward *f, const float *params) {
    dev_write_f32(f->params, 0, f->net->nparams, params);
}

void snapfwd_logits(SnapshotForward *f, const float *images, int n, float *logits) {
    if (n > f->max_n) die("internal: %d images for a forward of at most %d", n, f->max_n);
    size_t img = (size_t)f->net->channels * f->net->height * f->net->width;
    dev_write_f32(f->x, 0, (size_t)n * img, images);
    exec_forward(&f->e, dptr(f->params, 0), f->x, n, 1);
    dev_read_f32(exec_logits(&f->e), 0, (size_t)n * f->net->num_classes, logits);
}

void snapfwd_free(SnapshotForward *f) {
    dev_free(f->params);
    dev_free(f->x);
    exec_free(&f->e);
    memset(f, 0, sizeof *f);
}

int logits_argmax(const float *row, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (row[k] > row[best]) best = k;
    return best;
}

int pick_correct_images(const Net *net, const float *params, const char *who, const ImageSet *train, int num_classes,
                        int ipc, Rng *rng, ImageSet *out, int *examined, char *err, size_t errlen) {
    ClassIndex ci;
    class_index_build(train, num_classes, &ci);
    int K = net->num_classes, most = 1;
    for (int c = 0; c < num_classes; c++)
        if (ci.count[c] > most) most = ci.count[c];
    int batch = most < PICK_BATCH ? most : PICK_BATCH;
    size_t img = (size_t)train->c * train->h * train->w;
    imageset_alloc(out, num_classes * ipc, train->c, train->h, train->w);
    SnapshotForward f;
    snapfwd_init(&f, net, batch);
    snapfwd_set_params(&f, params);
    float *x = xmalloc((size_t)batch * img * sizeof(float)), *logits = xmalloc((size_t)batch * K * sizeof(float));
    int status = 0;
    for (int c = 0; c < num_classes && status == 0; c++) {
        int count = ci.count[c];
        if (count < ipc) {
            snprintf(err, errlen, "--pix_init=samples_predicted_correctly: class %d has only %d training images, fewer "
                     "than the %d per class asked for", c, count, ipc);
            status = -1;
            break;
        }
        int *perm = xmalloc((size_t)count * sizeof(int));
        rng_perm(rng, perm, count);
        int got = 0, pos = 0;
        while (got < ipc && pos < count) {
            int n = count - pos < batch ? count - pos : batch;
            for (int j = 0; j < n; j++)
                memcpy(x + (size_t)j * img, train->images + (size_t)ci.idx[c][perm[pos + j]] * img, img * sizeof(float));
            snapfwd_logits(&f, x, n, logits);
            for (int j = 0; j < n && got < ipc; j++) {
                if (logits_argmax(logits + (size_t)j * K, K) != c) continue;
                int row = c * ipc + got++;
                memcpy(out->images + (size_t)row * img, x + (size_t)j * img, img * sizeof(float));
                out->labels[row] = c;
                if (examined) examined[c] = pos + j + 1;
            }
            pos += n;
        }
        free(perm);
        if (got < ipc) {
            snprintf(err, errlen, "--pix_init=samples_predicted_correctly: %s classifies only %d of the %d training "
                     "images of class %d correctly, fewer than the %d per class needed (lower --ipc, or choose another "
                     "--Label_Model_Timestamp)", who, got, count, c, ipc);
            status = -1;
        }
    }
    free(x);
    free(logits);
    snapfwd_free(&f);
    class_index_free(&ci);
    if (status) imageset_free(out);
    return status;
}

int average_correct_logits(const Net *net, const float *const *snaps, int nsnaps, const ImageSet *images,
                           float *logits, int *counts, char *err, size_t errlen) {
    int K = net->num_classes, n = images->n, chunk = n < PICK_BATCH ? n : PICK_BATCH;
    size_t img = (size_t)images->c * images->h * images->w;
    /* Sums in double: the float mean is then the rounded exact mean for any order of the snapshots
     * but in rare ties of rounding. */
    double *sum = xcalloc((size_t)n * K, sizeof(double));
    int *num = xcalloc((size_t)n, sizeof(int));
    float *part = xmalloc((size_t)chunk * K * sizeof(float));
    SnapshotForward f;
    snapfwd_init(&f, net, chunk);
    for (int s = 0; s < nsnaps; s++) {
        snapfwd_set_params(&f, snaps[s]);
        for (int r0 = 0; r0 < n; r0 += chunk) {
            int m = n - r0 < chunk ? n - r0 : chunk;
            snapfwd_logits(&f, images->images + (size_t)r0 * img, m, part);
            for (int j = 0; j < m; j++) {
                const float *row = part + (size_t)j * K;
                if (logits_argmax(row, K) != images->labels[r0 + j]) continue;
                for (int k = 0; k < K; k++) sum[(size_t)(r0 + j) * K + k] += row[k];
                num[r0 + j]++;
            }
        }
    }
    int status = 0;
    for (int i = 0; i < n && status == 0; i++) {
        if (num[i] == 0) {
            snprintf(err, errlen, "soft labels: none of the %d expert snapshots classifies image %d (class %d) "
                     "correctly, so there is no logit average to start it from", nsnaps, i, images->labels[i]);
            status = -1;
            break;
        }
        for (int k = 0; k < K; k++) logits[(size_t)i * K + k] = (float)(sum[(size_t)i * K + k] / num[i]);
        if (counts) counts[i] = num[i];
    }
    snapfwd_free(&f);
    free(part);
    free(sum);
    free(num);
    return status;
}
