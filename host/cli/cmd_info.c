/* clmtt info: what a clmtt file is (expert trajectories, synthetic set, ZCA transform),
 * whether it is sound (docs/formats.md), and a model's parameter layout.
 *   clmtt info FILE...                    one report per file; exit 1 when any file has a problem
 *   clmtt info --model M --dataset D      the flat parameter vector's tensors (names, shapes, count)
 * --json prints the same as JSON (one array of file reports, or one layout object). */
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/util.h"
#include "data/dataset.h"
#include "io/safetensors.h"
#include "io/synset.h"
#include "io/trajectory.h"
#include "net/registry.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a file report: fields, then the problems found ---- */

typedef struct {
    cJSON *obj;       /* {"file", "kind", ...fields..., "problems": [...], "ok"} */
    cJSON *problems;
} Report;

static void problem(Report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(Report *r, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(r->problems, cJSON_CreateString(msg));
}

static cJSON *shape_json(const int64_t *shape, int ndim) {
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; d < ndim; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[d]));
    return a;
}

/* Metadata value, or NULL and a problem when required and missing. */
static const char *meta(Report *r, const StFile *f, const char *key, int required) {
    const char *v = st_meta(f, key);
    if (!v && required) problem(r, "metadata '%s' is missing", key);
    return v;
}

/* A metadata integer >= lo, or -1 (with a problem) when missing or malformed. */
static long meta_int(Report *r, const StFile *f, const char *key, long lo) {
    const char *v = meta(r, f, key, 1);
    if (!v) return -1;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo) {
        problem(r, "metadata '%s' is '%s', not an integer >= %ld", key, v, lo);
        return -1;
    }
    return x;
}

static int meta_bool(Report *r, const StFile *f, const char *key, int required) {
    const char *v = meta(r, f, key, required);
    if (!v) return 0;
    if (strcmp(v, "true") && strcmp(v, "false")) problem(r, "metadata '%s' is '%s', not true or false", key, v);
    return strcmp(v, "true") == 0;
}

/* The first non-finite float of x[0..n), or -1. */
static long long first_nonfinite(const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, p + i * 4, 4);
        if (!isfinite(v)) return (long long)i;
    }
    return -1;
}

/* The network the file's metadata describes (its model on its input and classes); 0 when
 * the model is unknown (a problem). */
static int file_net(Report *r, const char *model, long c, long h, long w, long k, Net *net) {
    if (!model || c < 1 || h < 1 || w < 1 || k < 1) return 0;
    if (!net_try_build(net, model, (int)c, (int)h, (int)w, (int)k)) {
        problem(r, "model '%s' is not one clmtt knows", model);
        return 0;
    }
    return 1;
}

/* Input shape and classes against the catalog (ImageNet: any size, the subset's classes). */
static void check_dataset_shape(Report *r, const char *dataset, long c, long h, long w, long k) {
    const DatasetInfo *ds = dataset ? dataset_find(dataset) : NULL;
    if (dataset && !ds) {
        problem(r, "dataset '%s' is not in the catalog", dataset);
        return;
    }
    if (!ds || c < 0 || h < 0 || w < 0 || k < 0) return;
    int imagenet = strcmp(ds->name, "ImageNet") == 0;
    if (c != ds->channels || (!imagenet && (h != ds->height || w != ds->width)))
        problem(r, "the input %ldx%ldx%ld is not %s's %dx%dx%d", c, h, w, ds->name, ds->channels, ds->height, ds->width);
    if (!imagenet && k != ds->num_classes) problem(r, "num_classes is %ld, but %s has %d", k, ds->name, ds->num_classes);
}

/* ---- expert trajectory files ---- */

static void info_trajectory(Report *r, const StFile *f) {
    cJSON *o = r->obj;
    cJSON_AddStringToObject(o, "kind", "trajectories");
    const char *model = meta(r, f, "model", 1), *dataset = meta(r, f, "dataset", 1);
    if (model) cJSON_AddStringToObject(o, "model", model);
    if (dataset) cJSON_AddStringToObject(o, "dataset", dataset);
    long c = meta_int(r, f, "channel", 1), h = meta_int(r, f, "height", 1), w = meta_int(r, f, "width", 1);
    long k = meta_int(r, f, "num_classes", 2);
    if (c > 0 && h > 0 && w > 0) cJSON_AddItemToObject(o, "input", shape_json((int64_t[]){c, h, w}, 3));
    if (k > 0) cJSON_AddNumberToObject(o, "num_classes", (double)k);
    int zca = meta_bool(r, f, "zca", 1);
    cJSON_AddBoolToObject(o, "zca", zca);
    const char *info_keys[] = {"lr_teacher", "train_epochs", "batch_train", "mom", "l2", "dsa", "dsa_strategy",
                               "seed", "generator"};
    for (size_t i = 0; i < sizeof info_keys / sizeof info_keys[0]; i++) {
        const char *v = st_meta(f, info_keys[i]);
        if (v) cJSON_AddStringToObject(o, info_keys[i], v);
    }
    check_dataset_shape(r, dataset, c, h, w, k);

    const StTensor *t = st_find(f, "trajectories");
    if (!t) {
        problem(r, "no tensor 'trajectories'");
        return;
    }
    if (t->dtype != DT_F32 || t->ndim != 3) {
        problem(r, "'trajectories' is %s with %d dimensions, not F32 [experts, snapshots, parameters]",
                dtype_name(t->dtype), t->ndim);
        return;
    }
    cJSON_AddNumberToObject(o, "experts", (double)t->shape[0]);
    cJSON_AddNumberToObject(o, "snapshots", (double)t->shape[1]);
    cJSON_AddNumberToObject(o, "parameters", (double)t->shape[2]);
    if (t->shape[0] < 1) problem(r, "no experts");
    if (t->shape[1] < 2) problem(r, "%lld snapshot%s per expert (at least 2 are needed)", (long long)t->shape[1],
                                 t->shape[1] == 1 ? "" : "s");
    if ((uintptr_t)t->data % sizeof(float)) problem(r, "'trajectories' data is not 4-byte aligned in the file");
    long long bad = first_nonfinite(t->data, t->numel);
    if (bad >= 0) {
        long long per_e = t->shape[1] * t->shape[2];
        problem(r, "value %lld of expert %lld, snapshot %lld is not finite", bad % t->shape[2], bad / per_e,
                (bad % per_e) / t->shape[2]);
    }
    const char *np = st_meta(f, "num_params");
    if (np && strtoll(np, NULL, 10) != t->shape[2])
        problem(r, "metadata num_params is %s, but the snapshots hold %lld", np, (long long)t->shape[2]);

    Net net;
    if (!file_net(r, model, c, h, w, k, &net)) return;
    if ((size_t)t->shape[2] != net.ndense)
        problem(r, "the snapshots hold %lld parameters, but %s on %ldx%ldx%ld with %ld classes has %zu",
                (long long)t->shape[2], model, c, h, w, k, net.ndense);
    /* param_layout, when present, must be the model's. */
    const char *layout = st_meta(f, "param_layout");
    if (layout) {
        char *want = net_param_layout_json(&net);
        cJSON *a = cJSON_Parse(layout), *b = cJSON_Parse(want);
        if (!a || !cJSON_Compare(a, b, 1)) problem(r, "metadata param_layout is not the layout of %s", model);
        cJSON_Delete(a);
        cJSON_Delete(b);
        free(want);
    }
}

/* ---- synthetic set files ---- */

static void info_synset(Report *r, const StFile *f) {
    cJSON *o = r->obj;
    cJSON_AddStringToObject(o, "kind", "set");
    const char *dataset = meta(r, f, "dataset", 1), *model = st_meta(f, "model"), *subset = st_meta(f, "subset");
    if (dataset) cJSON_AddStringToObject(o, "dataset", dataset);
    if (subset) cJSON_AddStringToObject(o, "subset", subset);
    if (model) cJSON_AddStringToObject(o, "model", model);
    const char *it = st_meta(f, "iteration");
    if (it) cJSON_AddNumberToObject(o, "iteration", atof(it));
    int zca = meta_bool(r, f, "zca", 0), texture = meta_bool(r, f, "texture", 0);
    const StTensor *im = st_find(f, "images"), *lb = st_find(f, "labels"), *lr = st_find(f, "lr");
    const StTensor *iz = st_find(f, "images_zca");
    if (!im || im->dtype != DT_F32 || im->ndim != 4) {
        problem(r, "tensor 'images' must be F32 [N, C, H, W]");
        return;
    }
    long long n = im->shape[0];
    cJSON_AddNumberToObject(o, "images", (double)n);
    cJSON_AddItemToObject(o, "image_shape", shape_json(im->shape + 1, 3));
    if (n < 1) problem(r, "the set is empty");
    const DatasetInfo *ds = dataset ? dataset_find(dataset) : NULL;
    if (dataset && !ds) problem(r, "dataset '%s' is not in the catalog", dataset);
    int classes = ds && strcmp(ds->name, "ImageNet") ? ds->num_classes : 0;

    /* Labels: one class per row (hard); class-major when row c*ipc + j is class c. Learned soft
     * labels (metadata labels = soft): the label logits F32 [N, classes]. */
    const char *lkind = st_meta(f, "labels");
    if (lkind && strcmp(lkind, "soft") == 0) {
        if (!lb || lb->dtype != DT_F32 || lb->ndim != 2 || lb->shape[0] != n || (classes && lb->shape[1] != classes))
            problem(r, "a soft-label set needs tensor 'labels' F32 [%lld, %d classes] (label logits)", n, classes);
        else if (first_nonfinite(lb->data, lb->numel) >= 0)
            problem(r, "label logit %lld is not finite", first_nonfinite(lb->data, lb->numel));
        cJSON_AddStringToObject(o, "labels", "soft (learned label logits)");
        if (classes && n % classes == 0) cJSON_AddNumberToObject(o, "ipc", (double)(n / classes));
    } else if (!lb || lb->dtype != DT_I64 || lb->ndim != 1 || lb->shape[0] != n) {
        problem(r, "tensor 'labels' must be I64 [%lld]", n);
    } else {
        long long maxl = -1;
        int bad = 0;
        for (long long i = 0; i < n && !bad; i++) {
            int64_t l;
            memcpy(&l, (const char *)lb->data + i * 8, 8);
            if (l < 0 || l > 100000 || (classes && l >= classes)) {
                problem(r, "label %lld of row %lld is not a class%s%s", (long long)l, i, ds ? " of " : "",
                        ds ? ds->name : "");
                bad = 1;
            }
            if (l > maxl) maxl = l;
        }
        int k = classes ? classes : (int)(maxl + 1);
        int class_major = !bad && k > 0 && n % k == 0;
        for (long long i = 0; class_major && i < n; i++) {
            int64_t l;
            memcpy(&l, (const char *)lb->data + i * 8, 8);
            if (l != i / (n / k)) class_major = 0;
        }
        /* Soft rows (DATM's learned labels, kept by tools/convert_pt.py) travel beside the hard argmax. */
        const StTensor *soft = st_find(f, "soft_labels");
        if (soft && (soft->dtype != DT_F32 || soft->ndim != 2 || soft->shape[0] != n))
            problem(r, "tensor 'soft_labels' must be F32 [%lld, K]", n);
        cJSON_AddStringToObject(o, "labels", soft ? (class_major ? "soft (argmax in labels: class-major)" : "soft")
                                                  : class_major ? "hard, class-major" : "hard");
        if (class_major) cJSON_AddNumberToObject(o, "ipc", (double)(n / k));
    }
    const char *ipc = st_meta(f, "ipc");
    if (ipc && classes && n % classes == 0 && atol(ipc) != n / classes)
        problem(r, "metadata ipc is %s, but the set holds %lld images per class", ipc, n / classes);
    if (!lr || lr->dtype != DT_F32 || lr->numel != 1) {
        problem(r, "tensor 'lr' must be F32 [1]");
    } else {
        float v;
        memcpy(&v, lr->data, 4);
        char txt[32];   /* float32 shown with its 7 significant digits: 0.01, not 0.00999999978 */
        snprintf(txt, sizeof txt, "%.7g", v);
        cJSON_AddNumberToObject(o, "lr", strtod(txt, NULL));
        if (!isfinite(v)) problem(r, "lr is not finite");
    }
    cJSON_AddBoolToObject(o, "zca", zca);
    if (iz && !zca) problem(r, "tensor 'images_zca' without metadata zca = true");
    if (iz && (iz->dtype != DT_F32 || iz->ndim != 4 || memcmp(iz->shape, im->shape, 4 * sizeof(int64_t))))
        problem(r, "tensor 'images_zca' does not have the shape of 'images'");
    long long bad = first_nonfinite(im->data, im->numel);
    if (bad >= 0) problem(r, "image value %lld (row %lld) is not finite", bad, bad / (im->numel / (size_t)(n ? n : 1)));

    long side = 1;
    if (texture) {
        long cs = meta_int(r, f, "canvas_size", 1), ns = meta_int(r, f, "canvas_samples", 1);
        cJSON_AddStringToObject(o, "parameterization", "texture");
        if (cs > 0) cJSON_AddNumberToObject(o, "canvas_size", (double)cs);
        if (ns > 0) cJSON_AddNumberToObject(o, "canvas_samples", (double)ns);
        if (cs > 0 && (im->shape[2] % cs || im->shape[3] % cs))
            problem(r, "canvas_size %ld does not divide the %lldx%lld canvases", cs, (long long)im->shape[2],
                    (long long)im->shape[3]);
        side = cs > 0 ? cs : 1;
    } else if (st_meta(f, "param") && strcmp(st_meta(f, "param"), "freq") == 0) {
        long k = meta_int(r, f, "freq_dims", 1), budget = meta_int(r, f, "budget_ipc", 1);
        cJSON_AddStringToObject(o, "parameterization", "freq");
        cJSON_AddNumberToObject(o, "freq_dims", (double)k);
        cJSON_AddNumberToObject(o, "budget_ipc", (double)budget);
        const StTensor *fc = st_find(f, "freq_coeffs"), *fi = st_find(f, "freq_index");
        if (!fc || fc->dtype != DT_F32 || fc->ndim != 3 || fc->shape[0] != n || fc->shape[1] != im->shape[1] ||
            fc->shape[2] != k)
            problem(r, "frequency set without tensor freq_coeffs F32 [%lld, %lld, %ld]", n, (long long)im->shape[1], k);
        if (!fi || fi->dtype != DT_I64 || fi->ndim != 2 || fi->shape[0] != im->shape[1] || fi->shape[1] != k)
            problem(r, "frequency set without tensor freq_index I64 [%lld, %ld]", (long long)im->shape[1], k);
    } else {
        cJSON_AddStringToObject(o, "parameterization", "pixels");
    }
    if (ds) {
        int imagenet = strcmp(ds->name, "ImageNet") == 0;
        long h = imagenet ? im->shape[2] / side : ds->height, w = imagenet ? im->shape[3] / side : ds->width;
        if (im->shape[1] != ds->channels || im->shape[2] != side * h || im->shape[3] != side * w)
            problem(r, "%s are %lldx%lldx%lld, but %s needs %dx%ldx%ld", texture ? "canvases" : "images",
                    (long long)im->shape[1], (long long)im->shape[2], (long long)im->shape[3], ds->name, ds->channels,
                    side * h, side * w);
    }
    const char *gen = st_meta(f, "generator");
    if (gen) cJSON_AddStringToObject(o, "generator", gen);
}

/* ---- ZCA transform files ---- */

static void info_zca(Report *r, const StFile *f) {
    cJSON *o = r->obj;
    cJSON_AddStringToObject(o, "kind", "zca");
    const char *dataset = meta(r, f, "dataset", 1);
    if (dataset) cJSON_AddStringToObject(o, "dataset", dataset);
    long c = meta_int(r, f, "channel", 1), h = meta_int(r, f, "height", 1), w = meta_int(r, f, "width", 1);
    if (c > 0 && h > 0 && w > 0) cJSON_AddItemToObject(o, "input", shape_json((int64_t[]){c, h, w}, 3));
    long long d = c > 0 && h > 0 && w > 0 ? (long long)c * h * w : -1;
    const char *names[] = {"mean", "T", "T_inv"};
    for (int i = 0; i < 3; i++) {
        const StTensor *t = st_find(f, names[i]);
        int ndim = i ? 2 : 1;
        if (!t || t->dtype != DT_F32 || t->ndim != ndim || (d > 0 && (t->shape[0] != d || (ndim == 2 && t->shape[1] != d))))
            problem(r, "tensor '%s' must be F32 [%s]", names[i], ndim == 1 ? "D" : "D, D");
    }
}

/* ---- one file ---- */

static cJSON *info_file(const char *path) {
    Report r = {cJSON_CreateObject(), cJSON_CreateArray()};
    cJSON_AddStringToObject(r.obj, "file", path);
    StFile f;
    char err[1024];
    if (st_open(path, &f, err, sizeof err) != 0) {
        cJSON_AddStringToObject(r.obj, "kind", "unreadable");
        const char *msg = strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':' ? err + strlen(path) + 2 : err;
        problem(&r, "%s", msg);
    } else {
        const char *fmt = st_meta(&f, "format");
        cJSON_AddStringToObject(r.obj, "format", fmt ? fmt : "");
        if (fmt && strcmp(fmt, TRAJ_FORMAT) == 0) info_trajectory(&r, &f);
        else if (fmt && strcmp(fmt, SYNSET_FORMAT) == 0) info_synset(&r, &f);
        else if (fmt && strcmp(fmt, "mtt-zca/1") == 0) info_zca(&r, &f);
        else {
            cJSON_AddStringToObject(r.obj, "kind", "safetensors");
            problem(&r, "not a clmtt file (metadata format is %s%s%s)", fmt ? "'" : "", fmt ? fmt : "missing",
                    fmt ? "'" : "");
        }
        st_close(&f);
    }
    cJSON_AddItemToObject(r.obj, "problems", r.problems);
    cJSON_AddBoolToObject(r.obj, "ok", cJSON_GetArraySize(r.problems) == 0);
    return r.obj;
}

/* Text: the file and its kind, one "key: value" line per field, then ok or the problems. */
static void print_report(const cJSON *o) {
    const char *kinds[][2] = {{"trajectories", "expert trajectory file"}, {"set", "synthetic set file"},
                              {"zca", "ZCA transform file"}, {"safetensors", "safetensors file"},
                              {"unreadable", "unreadable"}};
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), *what = kind;
    for (int i = 0; i < 5; i++)
        if (kind && strcmp(kind, kinds[i][0]) == 0) what = kinds[i][1];
    const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItem(o, "format"));
    printf("%s: %s%s%s%s\n", cJSON_GetStringValue(cJSON_GetObjectItem(o, "file")), what, fmt && *fmt ? " (" : "",
           fmt && *fmt ? fmt : "", fmt && *fmt ? ")" : "");
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        const char *k = it->string;
        if (!strcmp(k, "file") || !strcmp(k, "kind") || !strcmp(k, "format") || !strcmp(k, "problems") || !strcmp(k, "ok"))
            continue;
        if (cJSON_IsString(it)) printf("  %-16s %s\n", k, it->valuestring);
        else if (cJSON_IsBool(it)) printf("  %-16s %s\n", k, cJSON_IsTrue(it) ? "true" : "false");
        else if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) && fabs(it->valuedouble) < 1e15)
            printf("  %-16s %.0f\n", k, it->valuedouble);
        else if (cJSON_IsNumber(it)) printf("  %-16s %.7g\n", k, it->valuedouble);
        else {
            char *s = cJSON_PrintUnformatted(it);
            printf("  %-16s %s\n", k, s);
            free(s);
        }
    }
    const cJSON *p = cJSON_GetObjectItem(o, "problems");
    if (cJSON_GetArraySize(p) == 0) printf("  ok\n");
    cJSON_ArrayForEach(it, p) printf("  error: %s\n", it->valuestring);
}

/* ---- a model's layout ---- */

static cJSON *layout_json(const Net *net, const DatasetInfo *ds) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", net->model);
    cJSON_AddStringToObject(o, "dataset", ds->name);
    if (ds->subset) cJSON_AddStringToObject(o, "subset", ds->subset);
    cJSON_AddItemToObject(o, "input", shape_json((int64_t[]){net->channels, net->height, net->width}, 3));
    cJSON_AddNumberToObject(o, "num_classes", net->num_classes);
    cJSON_AddNumberToObject(o, "num_params", (double)net->ndense);
    cJSON *ts = cJSON_AddArrayToObject(o, "tensors");
    for (int i = 0; i < net->ntensors; i++) {
        const ParamTensor *t = &net->tensors[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON_AddItemToObject(e, "shape", shape_json(t->shape, t->ndim));
        cJSON_AddNumberToObject(e, "numel", (double)t->numel);
        cJSON_AddNumberToObject(e, "offset", (double)t->offset);
        cJSON_AddItemToArray(ts, e);
    }
    return o;
}

static void print_layout(const Net *net, const DatasetInfo *ds) {
    printf("%s on %s (%dx%dx%d, %d classes): %zu parameters in %d tensors\n", net->model, ds->name, net->channels,
           net->height, net->width, net->num_classes, net->ndense, net->ntensors);
    printf("  %-28s %-18s %10s  %s\n", "name", "shape", "count", "range");
    for (int i = 0; i < net->ntensors; i++) {
        const ParamTensor *t = &net->tensors[i];
        char sh[64];
        int n = snprintf(sh, sizeof sh, "[");
        for (int d = 0; d < t->ndim; d++) n += snprintf(sh + n, sizeof sh - (size_t)n, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        snprintf(sh + n, sizeof sh - (size_t)n, "]");
        printf("  %-28s %-18s %10zu  [%zu, %zu)\n", t->name, sh, t->numel, t->offset, t->offset + t->numel);
    }
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *dataset = NULL, *subset = "imagenette";
    int res = 128, json = 0;
    Flag flags[] = {
        {"model", FLAG_STR, &model, "print this model's parameter layout (with --dataset) instead of describing files", 0},
        {"dataset", FLAG_STR, &dataset, "the dataset whose input and classes the model is built for", 0},
        {"subset", FLAG_STR, &subset, "ImageNet subset", 0},
        {"res", FLAG_INT, &res, "ImageNet resolution", 0},
        {"json", FLAG_BOOL, &json, "print JSON instead of text", 0},
    };
    FlagSet fs = {"info", "Describe and check clmtt files (clmtt info FILE...), or print a model's parameter layout "
                  "(clmtt info --model M --dataset D).", flags, (int)(sizeof flags / sizeof flags[0])};
    /* Arguments that are not flags are the files; the rest goes to the flag parser. */
    char **fargv = xmalloc((size_t)(argc + 1) * sizeof(char *));
    const char **files = xmalloc((size_t)(argc + 1) * sizeof(char *));
    int fargc = 1, nfiles = 0;
    fargv[0] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0 || strcmp(argv[i], "-h") == 0) {
            fargv[fargc++] = argv[i];
            /* A non-boolean flag given as --name value takes the next word. */
            if (!strchr(argv[i], '=') && i + 1 < argc && strcmp(argv[i], "--json") && strcmp(argv[i], "--help") &&
                strcmp(argv[i], "-h"))
                fargv[fargc++] = argv[++i];
        } else {
            files[nfiles++] = argv[i];
        }
    }
    cli_parse(&fs, fargc, fargv);
    free(fargv);
    int status = 0;
    if (model || dataset) {
        cli_require(model && dataset, model ? "dataset" : "model", "--model and --dataset go together");
        cli_require(nfiles == 0, "model", "give either files or --model and --dataset, not both");
        DatasetInfo ds;
        dataset_resolve(dataset, subset, res, &ds);
        Net net;
        net_build(&net, model, ds.channels, ds.height, ds.width, ds.num_classes);
        if (json) {
            cJSON *o = layout_json(&net, &ds);
            char *s = cJSON_Print(o);
            printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        } else {
            print_layout(&net, &ds);
        }
        dataset_info_free(&ds);
    } else {
        if (nfiles == 0) die("info: give one or more files, or --model M --dataset D (see 'clmtt info --help')");
        cJSON *all = cJSON_CreateArray();
        for (int i = 0; i < nfiles; i++) {
            cJSON *o = info_file(files[i]);
            if (!cJSON_IsTrue(cJSON_GetObjectItem(o, "ok"))) status = 1;
            if (!json) print_report(o);
            cJSON_AddItemToArray(all, o);
        }
        if (json) {
            char *s = cJSON_Print(all);
            printf("%s\n", s);
            free(s);
        }
        cJSON_Delete(all);
    }
    free(files);
    return status;
}
