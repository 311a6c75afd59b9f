/* clmtt distill's evaluation pool: --num_eval fresh networks of each model of --eval_mode,
 * trained on the current set with its learned step size (docs/algorithm.md#evaluation). */
#include "cli/distill_parts.h"
#include "core/dist.h"
#include "core/util.h"

#include <math.h>
#include <string.h>

void evalpool_init(EvalPool *p, const DistillArgs *a, const DsaStrategy *dsa_eval) {
    memset(p, 0, sizeof *p);
    p->n = eval_pool(a->eval_mode, a->model, p->names, 8);
    p->num_eval = a->num_eval;
    p->cfg = (EvalConfig){a->epoch_eval_train, a->batch_train, 0, *dsa_eval, a->texture ? a->canvas_samples : 0};
    p->last_it = -1;
}

int evalpool_run(EvalPool *p, int it, const ImageSet *set, float lr, const ImageSet *test, int num_classes,
                 uint64_t seed, uint64_t stream, FILE *metrics, Progress *prog) {
    int improved = 0, nnet = p->n * p->num_eval, nranks = dist_size();
    if (nnet < 1) return 0;
    p->cfg.lr = lr;
    /* [network][test accuracy, seconds]: each rank fills its networks, the sum joins them. */
    double *res = xcalloc((size_t)nnet * 2, sizeof(double)), t0 = now_seconds();
    uint64_t it_stream = rng_substream(stream, (uint64_t)it);
    for (int i = 0; i < nnet; i++) {
        if (i % nranks != dist_rank()) continue;
        Rng rng;
        rng_init(&rng, seed, rng_substream(it_stream, (uint64_t)i));
        EvalResult r = evaluate_set(p->names[i / p->num_eval], set, test, num_classes, &p->cfg, &rng);
        res[2 * i] = r.test_acc;
        res[2 * i + 1] = r.seconds;
    }
    dist_allreduce_sum_f64(res, (size_t)nnet * 2);
    for (int m = 0; m < p->n; m++) {
        double sum = 0, sq = 0, secs = 0;
        char accs[1024] = "";
        for (int k = 0; k < p->num_eval; k++) {
            double acc = res[2 * ((size_t)m * p->num_eval + k)];
            secs += res[2 * ((size_t)m * p->num_eval + k) + 1];
            sum += acc;
            sq += acc * acc;
            size_t l = strlen(accs);
            snprintf(accs + l, sizeof accs - l, "%s%.4f", k ? ", " : "", acc);
        }
        /* One process: the model's own training time; several ranks: the wall time of the
         * whole pool, shared by its models. */
        if (nranks > 1) secs = now_seconds() - t0;
        double mean = sum / p->num_eval, var = sq / p->num_eval - mean * mean, sd = sqrt(var > 0 ? var : 0);
        if (mean > p->best[m]) { p->best[m] = mean; p->best_std[m] = sd; p->best_it[m] = it; improved = 1; }
        p->last[m] = mean;
        p->last_std[m] = sd;
        p->last_it = it;
        progress_clear(prog);
        printf("Evaluate %d random %s, mean = %.4f std = %.4f (best %.4f, %.1f s)\n", p->num_eval, p->names[m], mean,
               sd, p->best[m], secs);
        metrics_line(metrics,
                     "{\"iteration\": %d, \"eval_model\": \"%s\", \"accuracy_mean\": %.6f, \"accuracy_std\": %.6f, "
                     "\"best_mean\": %.6f, \"best_std\": %.6f, \"accuracies\": [%s], \"syn_lr\": %.9g, \"seconds\": %.3f}",
                     it, p->names[m], mean, sd, p->best[m], p->best_std[m], accs, lr, secs);
    }
    free(res);
    return improved;
}

void evalpool_report(const EvalPool *p, FILE *metrics) {
    if (p->num_eval < 1 || p->last_it < 0) return;
    /* Both figures: the last evaluation is what the final set gives; the best is a maximum over
     * the evaluations, which reads higher than any one set's expected accuracy. */
    char list[2048] = "";
    for (int m = 0; m < p->n; m++) {
        printf("Last %s accuracy: %.4f +- %.4f (iteration %d); best %.4f +- %.4f (iteration %d)\n", p->names[m],
               p->last[m], p->last_std[m], p->last_it, p->best[m], p->best_std[m], p->best_it[m]);
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l,
                 "%s{\"eval_model\": \"%s\", \"last_mean\": %.6f, \"last_std\": %.6f, \"last_iteration\": %d, "
                 "\"best_mean\": %.6f, \"best_std\": %.6f, \"best_iteration\": %d}",
                 m ? ", " : "", p->names[m], p->last[m], p->last_std[m], p->last_it, p->best[m], p->best_std[m],
                 p->best_it[m]);
    }
    metrics_line(metrics, "{\"final\": [%s]}", list);
}
