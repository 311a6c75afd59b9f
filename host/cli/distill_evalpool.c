/* clmtt distill's evaluation pool: --num_eval fresh networks of each model of --eval_mode,
 * trained on the current set with its learned step size (docs/algorithm.md#evaluation). */
#include "cli/distill_parts.h"
#include "core/util.h"

#include <math.h>
#include <string.h>

void evalpool_init(EvalPool *p, const DistillArgs *a, const DsaStrategy *dsa_eval) {
    memset(p, 0, sizeof *p);
    p->n = eval_pool(a->eval_mode, a->model, p->names, 8);
    p->num_eval = a->num_eval;
    p->cfg = (EvalConfig){a->epoch_eval_train, a->batch_train, 0, *dsa_eval, a->texture ? a->canvas_samples : 0};
}

int evalpool_run(EvalPool *p, int it, const ImageSet *set, float lr, const ImageSet *test, int num_classes, Rng *rng,
                 FILE *metrics, Progress *prog) {
    int improved = 0;
    for (int m = 0; m < p->n && p->num_eval > 0; m++) {
        p->cfg.lr = lr;
        double sum = 0, sq = 0, t0 = now_seconds();
        char accs[1024] = "";
        for (int k = 0; k < p->num_eval; k++) {
            EvalResult r = evaluate_set(p->names[m], set, test, num_classes, &p->cfg, rng);
            sum += r.test_acc;
            sq += r.test_acc * r.test_acc;
            size_t l = strlen(accs);
            snprintf(accs + l, sizeof accs - l, "%s%.4f", k ? ", " : "", r.test_acc);
        }
        double mean = sum / p->num_eval, var = sq / p->num_eval - mean * mean, sd = sqrt(var > 0 ? var : 0);
        if (mean > p->best[m]) { p->best[m] = mean; p->best_std[m] = sd; improved = 1; }
        progress_clear(prog);
        printf("Evaluate %d random %s, mean = %.4f std = %.4f (best %.4f, %.1f s)\n", p->num_eval, p->names[m], mean,
               sd, p->best[m], now_seconds() - t0);
        metrics_line(metrics,
                     "{\"iteration\": %d, \"eval_model\": \"%s\", \"accuracy_mean\": %.6f, \"accuracy_std\": %.6f, "
                     "\"best_mean\": %.6f, \"best_std\": %.6f, \"accuracies\": [%s], \"syn_lr\": %.9g, \"seconds\": %.3f}",
                     it, p->names[m], mean, sd, p->best[m], p->best_std[m], accs, lr, now_seconds() - t0);
    }
    return improved;
}

void evalpool_report(const EvalPool *p) {
    for (int m = 0; m < p->n && p->num_eval > 0; m++)
        printf("Best %s accuracy: %.4f +- %.4f\n", p->names[m], p->best[m], p->best_std[m]);
}
