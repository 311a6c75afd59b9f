#include "train/train.h"
#include "core/blas.h"
#include "core/runtime.h"
#include "augment/texture.h"
#include "core/util.h"
#include "layers/loss.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int net_rows_that_fit(const Net *net) {
    size_t per = 2 * net_max_activation(net);   /* the two adjoint buffers */
    for (int i = 0; i < net->nlayers; i++) per += layer_out_size(&net->layers[i]);
    size_t by_memory = (size_t)(RT.dev.global_mem / 4 / (per * sizeof(float)));
    size_t by_index = INT_MAX / net_max_activation(net), rows = by_memory < by_index ? by_memory : by_index;
    /* Each activation and gradient buffer [rows][largest activation] must fit one allocation. */
    size_t by_alloc = dev_max_items(net_max_activation(net) * sizeof(float));
    if (rows > by_alloc) rows = by_alloc;
    return rows < 1 ? 1 : rows > INT_MAX ? INT_MAX : (int)rows;
}

void trainer_init(Trainer *t, const Net *net, int max_n) { trainer_init_chunked(t, net, max_n, net_rows_that_fit(net)); }

void trainer_init_chunked(Trainer *t, const Net *net, int max_n, int chunk) {
    memset(t, 0, sizeof *t);
    t->net = net;
    t->max_n = max_n;
    t->chunk = max_n < chunk ? max_n : chunk < 1 ? 1 : chunk;
    step_init(&t->step, net, t->chunk, 0, 1);
    size_t P = net->nparams, img = (size_t)net->channels * net->height * net->width, K = net->num_classes;
    if (t->chunk < max_n) {
        t->xc = dev_alloc((size_t)t->chunk * img * 4, "image chunk");
        t->yc = dev_alloc((size_t)t->chunk * K * 4, "target row chunk");
    }
    t->params = dev_alloc(P * 4, "network parameters");
    t->grad = dev_alloc(P * 4, "parameter gradients");
    t->vel = dev_alloc(P * 4, "SGD momentum");
    t->x = dev_alloc((size_t)max_n * img * 4, "image batch");
    t->x_aug = dev_alloc((size_t)max_n * img * 4, "augmented image batch");
    t->targets = dev_alloc((size_t)max_n * K * 4, "target row batch");
    t->host_x = xmalloc((size_t)max_n * img * sizeof(float));
    t->host_t = xmalloc((size_t)max_n * K * sizeof(float));
}

void trainer_set_texture(Trainer *t, int canvas_h, int canvas_w, int rounds) {
    const Net *net = t->net;
    if (rounds < 1 || canvas_h < net->height || canvas_w < net->width)
        die("internal: texture canvases %dx%d with %d crop rounds for %dx%d inputs", canvas_h, canvas_w, rounds,
            net->height, net->width);
    int canvases = t->max_n / rounds;
    if (canvases < 1) die("internal: the trainer's %d rows hold no batch of %d crop rounds", t->max_n, rounds);
    t->tex_rounds = rounds;
    t->tex_h = canvas_h;
    t->tex_w = canvas_w;
    size_t canvas = (size_t)net->channels * canvas_h * canvas_w;
    t->tex_canvas = dev_alloc((size_t)canvases * canvas * 4, "texture canvas batch");
    t->tex_rows = dev_alloc((size_t)canvases * sizeof(int32_t), "texture canvas rows");
    t->tex_offs = dev_alloc((size_t)canvases * rounds * 2 * sizeof(int32_t), "texture crop offsets");
    t->host_canvas = xmalloc((size_t)canvases * canvas * sizeof(float));
    t->host_offs = xmalloc((size_t)canvases * rounds * 2 * sizeof(int32_t));
    /* The batch's canvases are uploaded in batch order: crop i of a round reads canvas i. */
    int32_t *rows = xmalloc((size_t)canvases * sizeof(int32_t));
    for (int i = 0; i < canvases; i++) rows[i] = i;
    dev_write(t->tex_rows, 0, (size_t)canvases * sizeof(int32_t), rows);
    free(rows);
}

void trainer_free(Trainer *t) {
    if (t->tex_rounds > 0) {
        dev_free(t->tex_canvas); dev_free(t->tex_rows); dev_free(t->tex_offs);
        free(t->host_canvas);
        free(t->host_offs);
    }
    step_free(&t->step);
    if (t->chunk < t->max_n) { dev_free(t->xc); dev_free(t->yc); }
    dev_free(t->params); dev_free(t->grad); dev_free(t->vel);
    dev_free(t->x); dev_free(t->x_aug); dev_free(t->targets);
    free(t->host_x);
    free(t->host_t);
    memset(t, 0, sizeof *t);
}

void trainer_init_params(Trainer *t, Rng *rng) {
    float *p = xmalloc(t->net->nparams * sizeof(float));
    net_init_params(t->net, rng, p);
    dev_write_f32(t->params, 0, t->net->nparams, p);
    free(p);
    exec_reset_running(&t->step.exec);
}

/* Host target row of image `row` of `set` into out[K]: its soft label, or the one-hot row of its label. */
static void target_row(const Trainer *t, const ImageSet *set, int row, float *out) {
    int K = t->net->num_classes;
    if (!set->targets) { ce_onehot_rows(out, set->labels + row, 1, K); return; }
    if (set->k != K) die("internal: a set with %d-class target rows for a %d-class network", set->k, K);
    memcpy(out, set->targets + (size_t)row * K, (size_t)K * sizeof(float));
}

/* Copies rows idx[0..n-1] of `set` into the device batch buffers. */
static void load_batch(Trainer *t, const ImageSet *set, const int *idx, int n) {
    size_t img = (size_t)set->c * set->h * set->w, K = t->net->num_classes;
    for (int i = 0; i < n; i++) {
        memcpy(t->host_x + (size_t)i * img, set->images + (size_t)idx[i] * img, img * sizeof(float));
        target_row(t, set, idx[i], t->host_t + (size_t)i * K);
    }
    dev_write_f32(t->x, 0, (size_t)n * img, t->host_x);
    dev_write_f32(t->targets, 0, (size_t)n * K, t->host_t);
}

/* Texture: uploads canvases idx[0..n-1], draws crop offsets and crops them into t->x
 * (rounds x n rows, labels repeated). Returns the number of rows. */
static int load_texture_batch(Trainer *t, const ImageSet *set, const int *idx, int n, Rng *rng) {
    size_t canvas = (size_t)set->c * set->h * set->w, K = t->net->num_classes;
    int R = t->tex_rounds;
    for (int i = 0; i < n; i++) {
        memcpy(t->host_canvas + (size_t)i * canvas, set->images + (size_t)idx[i] * canvas, canvas * sizeof(float));
        for (int r = 0; r < R; r++) target_row(t, set, idx[i], t->host_t + ((size_t)r * n + i) * K);
    }
    texture_draw_offsets(rng, n, R, set->h, set->w, t->host_offs);
    dev_write_f32(t->tex_canvas, 0, (size_t)n * canvas, t->host_canvas);
    dev_write(t->tex_offs, 0, (size_t)n * R * 2 * sizeof(int32_t), t->host_offs);
    dev_write_f32(t->targets, 0, (size_t)n * R * K, t->host_t);
    TexShape s = {set->c, t->net->height, t->net->width, set->h, set->w};
    texture_crop_forward(&s, t->x, t->tex_canvas, t->tex_rows, 0, t->tex_offs, 0, n, R);
    return n * R;
}

/* Loss sums and the mean gradient over the n rows of `input`: one student step, in chunks
 * of t->chunk rows when the batch does not fit one pass (their shares add up to the mean). */
static void batch_gradient(Trainer *t, cl_mem input, int n) {
    DPtr theta = dptr(t->params, 0), grad = dptr(t->grad, 0);
    if (n <= t->chunk) {
        step_grad(&t->step, theta, input, t->targets, n, n, 0, grad);
        return;
    }
    if (t->net->nbatchnorm > 0)
        die("%s with batch norm: a batch of %d rows does not fit the device in one pass (at most %d); batch "
            "statistics would change if it were split, so lower --batch_train", t->net->model, n, t->chunk);
    size_t img = (size_t)t->net->channels * t->net->height * t->net->width, K = t->net->num_classes;
    for (int c0 = 0; c0 < n; c0 += t->chunk) {
        int nc = n - c0 < t->chunk ? n - c0 : t->chunk;
        dev_copy(t->xc, 0, input, (size_t)c0 * img, (size_t)nc * img);
        dev_copy(t->yc, 0, t->targets, (size_t)c0 * K, (size_t)nc * K);
        step_grad(&t->step, theta, t->xc, t->yc, nc, n, c0 > 0, grad);
    }
}

void train_epoch(Trainer *t, const ImageSet *set, int batch, const DsaStrategy *dsa, Rng *rng, Sgd *sgd,
                 double *loss, double *acc, BatchCallback on_batch, void *ctx) {
    int R = t->tex_rounds > 0 ? t->tex_rounds : 1, most = batch < set->n ? batch : set->n;
    if ((size_t)most * R > (size_t)t->max_n) die("internal: batch %d x %d crops above the trainer's %d", most, R, t->max_n);
    if (t->tex_rounds > 0 && (set->h != t->tex_h || set->w != t->tex_w))
        die("internal: texture trainer for %dx%d canvases got %dx%d images", t->tex_h, t->tex_w, set->h, set->w);
    int H = t->net->height, W = t->net->width;
    int *perm = xmalloc((size_t)set->n * sizeof(int));
    rng_perm(rng, perm, set->n);
    exec_take_sums(&t->step.exec, NULL, NULL, NULL);
    DsaDraw draw = {0};
    for (int b0 = 0; b0 < set->n; b0 += batch) {
        int nb = set->n - b0 < batch ? set->n - b0 : batch, n = nb;
        if (t->tex_rounds > 0) n = load_texture_batch(t, set, perm + b0, nb, rng);
        else load_batch(t, set, perm + b0, nb);
        cl_mem input = t->x;
        if (dsa && dsa->ngroups > 0) {
            dsa_draw_free(&draw);
            dsa_draw(dsa, rng, n, H, W, &draw);
            dsa_forward(&draw, set->c, H, W, t->x_aug, t->x);
            input = t->x_aug;
        }
        batch_gradient(t, input, n);
        sgd_step(sgd, t->net->nparams, dptr(t->params, 0), dptr(t->grad, 0), dptr(t->vel, 0));
        if (on_batch) on_batch(ctx, (size_t)(b0 + nb));
    }
    dsa_draw_free(&draw);
    double ls, hits, rows;
    exec_take_sums(&t->step.exec, &ls, &hits, &rows);
    if (loss) *loss = rows > 0 ? ls / rows : 0;
    if (acc) *acc = rows > 0 ? hits / rows : 0;
    free(perm);
}

double test_accuracy(Trainer *t, const ImageSet *set) {
    int *idx = xmalloc((size_t)t->chunk * sizeof(int));
    exec_take_sums(&t->step.exec, NULL, NULL, NULL);
    for (int b0 = 0; b0 < set->n; b0 += t->chunk) {
        int n = set->n - b0 < t->chunk ? set->n - b0 : t->chunk;
        for (int i = 0; i < n; i++) idx[i] = b0 + i;
        load_batch(t, set, idx, n);
        exec_forward(&t->step.exec, dptr(t->params, 0), t->x, n, 0);
        exec_loss(&t->step.exec, t->targets, n);
    }
    free(idx);
    double hits, rows;
    exec_take_sums(&t->step.exec, NULL, &hits, &rows);
    return rows > 0 ? hits / rows : 0;
}
