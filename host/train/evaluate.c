#include "train/evaluate.h"
#include "net/registry.h"
#include "net/net.h"
#include "train/train.h"
#include "core/progress.h"
#include "core/util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EvalResult evaluate_set(const char *model, const ImageSet *train, const ImageSet *test, int num_classes,
                        const EvalConfig *cfg, Rng *rng) {
    if (!(cfg->lr >= 0) || !isfinite(cfg->lr))
        die("evaluation needs a non-negative learning rate, got %g (the learned syn_lr diverged; "
            "lower --lr_lr or --lr_img)", cfg->lr);
    double t0 = now_seconds();
    int texture = cfg->canvas_samples > 0;
    if (texture && (train->c != test->c || train->h < test->h || train->w < test->w || train->h % test->h ||
                    train->w % test->w || train->h / test->h != train->w / test->w))
        die("texture set: canvases of %dx%dx%d are not square multiples of the %dx%dx%d test images", train->c,
            train->h, train->w, test->c, test->h, test->w);
    Net net;
    net_build(&net, model, train->c, texture ? test->h : train->h, texture ? test->w : train->w, num_classes);
    Trainer t;
    /* A training batch holds min(batch, rows) images; texture: canvas_samples crops of each. */
    size_t train_rows = (size_t)(cfg->batch < train->n ? cfg->batch : train->n) * (texture ? cfg->canvas_samples : 1);
    if (train_rows > INT_MAX / 2) die("evaluation: %zu rows per training batch is too many", train_rows);
    /* Testing goes up to 256 rows at a time (fewer where they do not fit); accuracy does not
     * depend on it. */
    size_t test_rows = test->n < 256 ? (size_t)test->n : 256;
    trainer_init(&t, &net, (int)(train_rows > test_rows ? train_rows : test_rows));
    if (texture) trainer_set_texture(&t, train->h, train->w, cfg->canvas_samples);
    trainer_init_params(&t, rng);
    Sgd sgd = {cfg->lr, 0.9, 0.0005, 1};
    EvalResult r = {0, 0, 0};
    /* Training a network for evaluation is long work of its own: a progress line (terminal only). */
    Progress prog;
    char label[96];
    snprintf(label, sizeof label, "eval %s", model);
    progress_start(&prog, label, cfg->epochs + 1, "ep");
    for (int ep = 0; ep <= cfg->epochs; ep++) {
        double loss, acc;
        train_epoch(&t, train, cfg->batch, &cfg->dsa, rng, &sgd, &loss, &acc, NULL, NULL);
        progress_update(&prog, ep + 1);
        r.train_acc = acc;
        if (ep == cfg->epochs) r.test_acc = test_accuracy(&t, test);
        if (ep == cfg->epochs / 2 + 1) {
            sgd.lr *= 0.1;
            sgd_restart(&sgd);
        }
    }
    progress_clear(&prog);
    trainer_free(&t);
    r.seconds = now_seconds() - t0;
    return r;
}

/* Cuts a name just before its first "BN" (ConvNetBN -> ConvNet), as the original's S pool. */
static void strip_bn(const char *model, char *out, size_t n) {
    snprintf(out, n, "%s", model);
    char *p = strstr(out, "BN");
    if (p) *p = 0;
}

int eval_pool(const char *mode, const char *model, char names[][64], int max) {
    const char *list[8];
    int n = 0;
    char s[64];
    if (strcmp(mode, "S") == 0) { strip_bn(model, s, sizeof s); list[n++] = s; }
    else if (strcmp(mode, "M") == 0) {
        list[n++] = "ConvNet"; list[n++] = "AlexNet"; list[n++] = "VGG11"; list[n++] = "ResNet18_AP"; list[n++] = "ResNet18";
    } else if (strcmp(mode, "W") == 0) {
        list[n++] = "ConvNetW32"; list[n++] = "ConvNetW64"; list[n++] = "ConvNetW128"; list[n++] = "ConvNetW256";
    } else if (strcmp(mode, "D") == 0) {
        list[n++] = "ConvNetD1"; list[n++] = "ConvNetD2"; list[n++] = "ConvNetD3"; list[n++] = "ConvNetD4";
    } else if (strcmp(mode, "A") == 0) {
        list[n++] = "ConvNetAS"; list[n++] = "ConvNetAR"; list[n++] = "ConvNetAL";
    } else if (strcmp(mode, "P") == 0) {
        list[n++] = "ConvNetNP"; list[n++] = "ConvNetMP"; list[n++] = "ConvNetAP";
    } else if (strcmp(mode, "N") == 0) {
        list[n++] = "ConvNetNN"; list[n++] = "ConvNetBN"; list[n++] = "ConvNetLN"; list[n++] = "ConvNetIN"; list[n++] = "ConvNetGN";
    } else if (strcmp(mode, "C") == 0) { list[n++] = model; list[n++] = "ConvNet"; }
    else list[n++] = model;
    if (n > max) n = max;
    for (int i = 0; i < n; i++) snprintf(names[i], 64, "%s", list[i]);
    return n;
}

void random_real_subset(const ImageSet *train, int num_classes, int ipc, Rng *rng, ImageSet *out) {
    ClassIndex ci;
    class_index_build(train, num_classes, &ci);
    size_t img = (size_t)train->c * train->h * train->w;
    imageset_alloc(out, num_classes * ipc, train->c, train->h, train->w);
    for (int c = 0; c < num_classes; c++) {
        if (ci.count[c] < ipc)
            die("class %d has only %d training images, fewer than the %d per class asked for", c, ci.count[c], ipc);
        int *perm = xmalloc((size_t)ci.count[c] * sizeof(int));
        rng_perm(rng, perm, ci.count[c]);
        for (int j = 0; j < ipc; j++) {
            int row = c * ipc + j;
            memcpy(out->images + (size_t)row * img, train->images + (size_t)ci.idx[c][perm[j]] * img, img * sizeof(float));
            out->labels[row] = c;
        }
        free(perm);
    }
    class_index_free(&ci);
}
