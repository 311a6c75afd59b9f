/* clmtt distill's outputs: the run folder, the set files (mtt-synset/1, docs/formats.md)
 * and the pictures of the set. */
#include "cli/distill_parts.h"
#include "augment/texture.h"
#include "core/dist.h"
#include "core/util.h"
#include "core/runtime.h"
#include "io/png.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --zca: the set mapped back from whitened space (malloc'd); otherwise NULL. */
static float *unwhitened_set(const RunOutputs *r, const ImageSet *set) {
    if (!r->zca) return NULL;
    float *x = xmalloc((size_t)set->n * set->c * set->h * set->w * sizeof(float));
    zca_inverse(r->zca, set->images, x, set->n);
    return x;
}

/* unwhitened: unwhitened_set(r), saved as images_zca (NULL without ZCA). */
static void save_set(const RunOutputs *r, const ImageSet *set, float lr, const SynExtras *more, const char *stem,
                     int it, const float *unwhitened) {
    char path[4300], v[32];
    snprintf(path, sizeof path, "%s/%s.safetensors", r->dir, stem);
    snprintf(v, sizeof v, "%d", it);
    const char *extra[15] = {"iteration", v};
    int n = 2;
    char budget[16];
    if (more && more->nmeta) {   /* a parameterized set: the flag's ipc is a storage budget */
        snprintf(budget, sizeof budget, "%d", r->a->ipc);
        extra[n++] = "budget_ipc";
        extra[n++] = budget;
    }
    char cs[16], cn[16];
    if (r->a->texture) {
        snprintf(cs, sizeof cs, "%d", r->a->canvas_size);
        snprintf(cn, sizeof cn, "%d", r->a->canvas_samples);
        const char *tex[] = {"texture", "true", "canvas_size", cs, "canvas_samples", cn};
        memcpy(extra + n, tex, sizeof tex);
        n += 6;
    }
    /* ImageNet sets record which classes (and size) they stand for, so eval can check. */
    char res[16];
    if (r->ds->subset) {
        snprintf(res, sizeof res, "%d", r->ds->height);
        const char *sub[] = {"subset", r->ds->subset, "res", res};
        memcpy(extra + n, sub, sizeof sub);
    }
    synset_save(path, set, lr, r->ds->name, r->a->model, set->n / r->ds->num_classes, r->a->zca, unwhitened, extra,
                more);
}

/* The original shows sets of fewer than 50 images per class (or with --force_save):
 * a grid upsampled x4 (not for ImageNet), and the +-2.5 std clipped variant. */
static void save_pictures(const RunOutputs *r, const ImageSet *set, const char *stem, const float *unwhitened) {
    if (!(r->a->ipc < 50 || r->a->force_save)) return;
    char path[4300];
    int up = strcmp(r->ds->name, "ImageNet") == 0 ? 1 : 4;
    const float *shown = set->images;
    if (r->zca) {
        /* docs/formats.md#png-pictures: <stem>.png shows the inverse-ZCA images (normal colours);
         * <stem>_whitened.png the whitened ones the networks see. */
        snprintf(path, sizeof path, "%s/%s_whitened.png", r->dir, stem);
        png_write_grid(path, set->images, set->n, set->c, set->h, set->w, 10, up, 0);
        snprintf(path, sizeof path, "%s/%s_whitened_clipped.png", r->dir, stem);
        png_write_grid(path, set->images, set->n, set->c, set->h, set->w, 10, up, 2.5);
        shown = unwhitened;
    }
    snprintf(path, sizeof path, "%s/%s.png", r->dir, stem);
    png_write_grid(path, shown, set->n, set->c, set->h, set->w, 10, up, 0);
    snprintf(path, sizeof path, "%s/%s_clipped.png", r->dir, stem);
    png_write_grid(path, shown, set->n, set->c, set->h, set->w, 10, up, 2.5);
    if (r->a->texture) {
        /* Each canvas repeated 2 x 2: seams would show where the texture does not tile. */
        float *tiled = texture_tile(set->images, set->n, set->c, set->h, set->w, 2);
        snprintf(path, sizeof path, "%s/%s_tiled.png", r->dir, stem);
        png_write_grid(path, tiled, set->n, set->c, 2 * set->h, 2 * set->w, 10, up, 0);
        free(tiled);
    }
}

/* The set under stem (and also, when not NULL), with its pictures when pictures is set. */
static void save_stems(const RunOutputs *r, LearnSet *ls, const ImageSet *set, int it, const char *stem,
                       const char *also, int pictures) {
    if (!dist_is_root()) return;   /* every rank holds the same set; rank 0 writes it */
    SynExtras more;
    learnset_extras(ls, &more);
    float *unwhitened = unwhitened_set(r, set);
    float lr = learnset_shown_lr(ls);
    const char *stems[2] = {stem, also};
    for (int i = 0; i < 2 && stems[i]; i++) {
        save_set(r, set, lr, &more, stems[i], it, unwhitened);
        if (pictures) save_pictures(r, set, stems[i], unwhitened);
    }
    synset_extras_free(&more);
    free(unwhitened);
}

void outputs_save(const RunOutputs *r, LearnSet *ls, const ImageSet *set, int it, const char *stem, const char *also) {
    save_stems(r, ls, set, it, stem, also, 1);
}

/* images_last alone, no pictures: cheap enough for every evaluation and every few minutes. */
void outputs_checkpoint(const RunOutputs *r, LearnSet *ls, const ImageSet *set, int it) {
    save_stems(r, ls, set, it, "images_last", NULL, 0);
}

void outputs_make_dir(RunOutputs *r, uint64_t seed) {
    if (r->a->save_path) {
        snprintf(r->dir, sizeof r->dir, "%s", r->a->save_path);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(r->dir, sizeof r->dir, "logged_files/%s/%s_ipc%d_%s_s%" PRIu64, r->ds->name, r->a->model, r->a->ipc,
                 stamp, seed);
    }
    dist_bcast(r->dir, sizeof r->dir, 0);   /* rank 0's name (its clock's stamp) for every rank's messages */
    if (!dist_is_root()) return;
    mkdir_p(r->dir);
    int stale = remove_stale_temps(r->dir);
    if (stale) printf("Removed %d unfinished temporary file%s of an interrupted run from %s\n", stale, stale == 1 ? "" : "s", r->dir);
}

void outputs_settings_line(const RunOutputs *r, FILE *metrics, uint64_t seed, int batch_syn) {
    const DistillArgs *a = r->a;
    cJSON *o = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(o, "settings");
    cJSON_AddStringToObject(s, "dataset", r->ds->name);
    if (r->ds->subset) {
        cJSON_AddStringToObject(s, "subset", r->ds->subset);
        cJSON_AddNumberToObject(s, "res", r->ds->height);
    }
    cJSON_AddStringToObject(s, "model", a->model);
    cJSON_AddNumberToObject(s, "ipc", a->ipc);
    cJSON_AddNumberToObject(s, "syn_steps", a->syn_steps);
    cJSON_AddNumberToObject(s, "num_trajectories", a->num_trajectories);
    cJSON_AddNumberToObject(s, "ranks", dist_size());
    cJSON_AddNumberToObject(s, "expert_epochs", a->expert_epochs);
    cJSON_AddNumberToObject(s, "max_start_epoch", a->max_start_epoch);
    cJSON_AddNumberToObject(s, "Iteration", a->Iteration);
    cJSON_AddNumberToObject(s, "lr_img", a->lr_img);
    cJSON_AddNumberToObject(s, "lr_lr", a->lr_lr);
    cJSON_AddNumberToObject(s, "lr_teacher", a->lr_teacher);
    cJSON_AddNumberToObject(s, "batch_syn", batch_syn);
    cJSON_AddStringToObject(s, "pix_init", a->init_syn ? "file" : a->pix_init);
    if (a->init_syn) cJSON_AddStringToObject(s, "init_syn", a->init_syn);
    cJSON_AddBoolToObject(s, "zca", a->zca);
    cJSON_AddBoolToObject(s, "dsa", a->dsa);
    if (a->dsa) cJSON_AddStringToObject(s, "dsa_strategy", a->dsa_strategy);
    cJSON_AddBoolToObject(s, "no_aug", a->no_aug);
    cJSON_AddStringToObject(s, "param", a->param);
    if (strcmp(a->param, "freq") == 0) {
        cJSON_AddNumberToObject(s, "freq_dims", a->freq_dims);
        cJSON_AddNumberToObject(s, "images_per_class", a->images_per_class);
    }
    cJSON_AddBoolToObject(s, "texture", a->texture);
    if (a->texture) {
        cJSON_AddNumberToObject(s, "canvas_size", a->canvas_size);
        cJSON_AddNumberToObject(s, "canvas_samples", a->canvas_samples);
    }
    distill_match_settings(a, s);
    cJSON_AddStringToObject(s, "eval_mode", a->eval_mode);
    cJSON_AddNumberToObject(s, "num_eval", a->num_eval);
    cJSON_AddNumberToObject(s, "eval_it", a->eval_it);
    cJSON_AddNumberToObject(s, "epoch_eval_train", a->epoch_eval_train);
    cJSON_AddNumberToObject(s, "batch_train", a->batch_train);
    cJSON_AddStringToObject(s, "buffer_path", a->buffer_path);
    cJSON_AddNumberToObject(s, "seed", (double)seed);
    cJSON_AddStringToObject(s, "device", RT.dev.name);
    char *text = cJSON_PrintUnformatted(o);
    metrics_line(metrics, "%s", text);
    free(text);
    cJSON_Delete(o);
}
