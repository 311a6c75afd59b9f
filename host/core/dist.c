/* The only file that speaks MPI; see dist.h. */
#include "core/dist.h"

#include <cblas.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    int mpi;                    /* MPI_Init was called */
    int rank, size, local_rank, local_size;
    double comm_seconds, comm_bytes;
} D = {0, 0, 1, 0, 1, 0, 0};

/* Collectives move at most this many elements per call, so counts fit an int and rank
 * 0's gather buffer stays small whatever the vector. */
enum { CHUNK = 1 << 20 };

/* Launchers announce themselves in the environment: Open MPI's mpirun, PMI (MPICH's
 * hydra, Slurm's srun --mpi=pmi2) and PMIx (srun --mpi=pmix, Open MPI 5). */
static int launched_by_mpi(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void finalize(void) {
    if (D.mpi) MPI_Finalize();
    D.mpi = 0;
}

/* Ranks on one node share its cores: without this, each rank's PoCL would start a thread
 * per core, and N ranks would run N x cores threads on the cores. */
static void share_cpu_cores(void) {
    /* PoCL up to 3.x reads the first name, later versions the second. */
    if (D.local_size < 2 || getenv("POCL_MAX_PTHREAD_COUNT") || getenv("POCL_CPU_MAX_CU_NUM")) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long per = cores / D.local_size;
    char v[32];
    snprintf(v, sizeof v, "%ld", per < 1 ? 1 : per);
    setenv("POCL_MAX_PTHREAD_COUNT", v, 0);
    setenv("POCL_CPU_MAX_CU_NUM", v, 0);
}

/* OpenBLAS splits its work by its thread count, and the bits of some results (the ZCA fit's
 * eigendecomposition) follow the split. A launcher that binds a rank to one core makes
 * OpenBLAS start one thread; giving it the node's core count, as a lone process gets, keeps
 * the host BLAS results the same as one process's. */
static void host_blas_as_one_process(void) {
    if (D.size < 2 || getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS")) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    openblas_set_num_threads(cores < 1 ? 1 : (int)cores);
}

void dist_init(int *argc, char ***argv) {
    if (D.mpi || !launched_by_mpi()) return;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "clmtt: started by an MPI launcher, but MPI_Init failed\n");
        exit(1);
    }
    D.mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &D.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &D.size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, D.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &D.local_rank);
    MPI_Comm_size(node, &D.local_size);
    MPI_Comm_free(&node);
    atexit(finalize);
    share_cpu_cores();
    host_blas_as_one_process();
    /* Rank 0 prints the log; the others print only errors (stderr). */
    if (D.rank != 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "clmtt: rank %d: cannot silence stdout\n", D.rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

int dist_active(void) { return D.mpi; }
int dist_rank(void) { return D.rank; }
int dist_size(void) { return D.size; }
int dist_local_rank(void) { return D.local_rank; }
int dist_local_size(void) { return D.local_size; }
int dist_is_root(void) { return D.rank == 0; }

void dist_abort(const char *reason) {
    fflush(stdout);
    if (!D.mpi) {
        fprintf(stderr, "clmtt: %s\n", reason);
        exit(1);
    }
    fprintf(stderr, "clmtt: rank %d: %s\n", D.rank, reason);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);   /* MPI_Abort does not return; the compiler does not know */
}

static void check(int rc, const char *call) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING + 64];
    int len = 0;
    char why[MPI_MAX_ERROR_STRING];
    MPI_Error_string(rc, why, &len);
    snprintf(text, sizeof text, "%s failed: %s", call, why);
    dist_abort(text);
}

/* Sums the ranks' chunks on rank 0 in rank order; *all holds size x c values there. */
#define REDUCE_BODY(T, MPI_T, ACC)                                                                   \
    if (D.size < 2) return;                                                                          \
    double t0 = MPI_Wtime();                                                                         \
    T *all = D.rank == 0 ? malloc((size_t)D.size * CHUNK * sizeof(T)) : NULL;                        \
    if (D.rank == 0 && !all) dist_abort("out of host memory for a reduction");                       \
    for (size_t off = 0; off < n; off += CHUNK) {                                                    \
        int c = (int)(n - off < CHUNK ? n - off : CHUNK);                                            \
        check(MPI_Gather(x + off, c, MPI_T, all, c, MPI_T, 0, MPI_COMM_WORLD), "MPI_Gather");        \
        if (D.rank == 0)                                                                             \
            for (int i = 0; i < c; i++) {                                                            \
                ACC s = all[i];                                                                      \
                for (int r = 1; r < D.size; r++) s += all[(size_t)r * c + i];                        \
                x[off + i] = (T)s;                                                                   \
            }                                                                                        \
        check(MPI_Bcast(x + off, c, MPI_T, 0, MPI_COMM_WORLD), "MPI_Bcast");                         \
    }                                                                                                \
    free(all);                                                                                       \
    D.comm_bytes += (double)n * sizeof(T) * (D.rank == 0 ? D.size - 1 : 1);                          \
    D.comm_seconds += MPI_Wtime() - t0;

void dist_allreduce_sum_f32(float *x, size_t n) { REDUCE_BODY(float, MPI_FLOAT, double) }
void dist_allreduce_sum_f64(double *x, size_t n) { REDUCE_BODY(double, MPI_DOUBLE, double) }

void dist_bcast(void *buf, size_t bytes, int root) {
    if (D.size < 2) return;
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < bytes; off += CHUNK)
        check(MPI_Bcast((char *)buf + off, (int)(bytes - off < CHUNK ? bytes - off : CHUNK), MPI_BYTE, root,
                        MPI_COMM_WORLD), "MPI_Bcast");
    if (D.rank == root) D.comm_bytes += (double)bytes * (D.size - 1);
    D.comm_seconds += MPI_Wtime() - t0;
}

void dist_send(const void *buf, size_t bytes, int peer, int tag) {
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < bytes; off += CHUNK)
        check(MPI_Send((const char *)buf + off, (int)(bytes - off < CHUNK ? bytes - off : CHUNK), MPI_BYTE, peer, tag,
                       MPI_COMM_WORLD), "MPI_Send");
    D.comm_bytes += (double)bytes;
    D.comm_seconds += MPI_Wtime() - t0;
}

void dist_recv(void *buf, size_t bytes, int peer, int tag) {
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < bytes; off += CHUNK)
        check(MPI_Recv((char *)buf + off, (int)(bytes - off < CHUNK ? bytes - off : CHUNK), MPI_BYTE, peer, tag,
                       MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    D.comm_seconds += MPI_Wtime() - t0;
}

void dist_gather_f64(double v, double *all) {
    if (D.size < 2) {
        if (all) all[0] = v;
        return;
    }
    check(MPI_Gather(&v, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Gather");
}

void dist_barrier(void) {
    if (D.size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

double dist_comm_seconds(void) { return D.comm_seconds; }
double dist_comm_bytes(void) { return D.comm_bytes; }
