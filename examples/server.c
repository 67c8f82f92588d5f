/* server: the shape of a multi-tenant inference server. One model is loaded
 * once; N worker threads each own a context (KV cache) and a sampler on that
 * shared model and take requests from a queue; each request is a prompt
 * generated greedily. At the end every reply is compared with a run of the
 * same prompt in a single context on the main thread: contexts never
 * disturb each other, and the thread count does not change results.
 *
 *   server MODEL [--contexts N] [--requests M] [--n-predict K] [--threads T]
 *
 * Defaults: 4 contexts, 12 requests, 24 tokens each, 1 kernel thread per
 * context. Exit 0 when every reply matches, 1 otherwise.
 */
#include <bitnet/bitnet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUT 512

static const char *const PROMPTS[] = {
    "In the beginning", "And God said", "The LORD is my shepherd", "Blessed are the",
    "And it came to pass", "Let there be light", "Thou shalt not", "Hear, O Israel",
};
#define N_PROMPTS (int)(sizeof PROMPTS / sizeof PROMPTS[0])

typedef struct request {
    const char *prompt;
    bitnet_token out[MAX_OUT];
    int n_out;
    bitnet_status status;
    int worker; /* which worker served it */
} request;

/* A fixed-size FIFO of request pointers guarded by one mutex; workers sleep
 * on `ready` until a request arrives or the queue is closed. */
typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    request **items;
    int head, tail, cap;
    int closed;
} queue;

typedef struct worker {
    int id;
    bitnet_context *ctx; /* owned by this worker's thread while it runs */
    bitnet_sampler *sampler;
    queue *q;
    int n_predict;
    int served;
} worker;

static void queue_push(queue *q, request *r)
{
    pthread_mutex_lock(&q->lock);
    q->items[q->tail++ % q->cap] = r;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static void queue_close(queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

/* The next request, or NULL once the queue is closed and empty. */
static request *queue_pop(queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->head == q->tail && !q->closed)
        pthread_cond_wait(&q->ready, &q->lock);
    request *r = q->head < q->tail ? q->items[q->head++ % q->cap] : NULL;
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* Greedy generation for one prompt in a context that is cleared first. */
static bitnet_status generate(bitnet_context *ctx, bitnet_sampler *smp, const char *prompt, int n_predict,
                              bitnet_token *out, int *n_out)
{
    bitnet_model *m = bitnet_context_model(ctx); /* borrowed */
    bitnet_token toks[256];
    size_t n = 0;
    *n_out = 0;
    bitnet_context_clear(ctx);
    bitnet_sampler_reset(smp);
    bitnet_status s = bitnet_tokenize(m, prompt, strlen(prompt), BITNET_TOKENIZE_ADD_SPECIAL, toks, 256, &n);
    for (size_t i = 0; !s && i < n; i++)
        s = bitnet_sampler_accept(smp, toks[i]);
    if (!s)
        s = bitnet_context_decode(ctx, toks, (int32_t)n);
    const int32_t n_vocab = bitnet_vocab_size(m);
    while (!s && *n_out < n_predict) {
        bitnet_token t;
        if ((s = bitnet_sampler_sample(smp, bitnet_context_logits(ctx, -1), n_vocab, &t)))
            break;
        if (bitnet_token_is_eog(m, t))
            break;
        out[(*n_out)++] = t;
        if (*n_out == n_predict || bitnet_context_n_past(ctx) == bitnet_context_n_ctx(ctx))
            break;
        if (!(s = bitnet_sampler_accept(smp, t)))
            s = bitnet_context_decode(ctx, &t, 1);
    }
    return s;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    request *r;
    while ((r = queue_pop(w->q))) {
        r->status = generate(w->ctx, w->sampler, r->prompt, w->n_predict, r->out, &r->n_out);
        r->worker = w->id;
        w->served++;
    }
    return NULL;
}

static int fail(const char *what, bitnet_status s)
{
    fprintf(stderr, "server: %s: %s (%s)\n", what, bitnet_status_str(s), bitnet_last_error());
    return 1;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, int *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > hi) {
        fprintf(stderr, "server: %s needs an integer in [%ld, %ld]\n", flag, lo, hi);
        return 2;
    }
    *out = (int)x;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: server MODEL [--contexts N] [--requests M] [--n-predict K] [--threads T]\n");
        return 2;
    }
    int n_workers = 4, n_requests = 12, n_predict = 24, n_threads = 1;
    for (int i = 2; i < argc; i += 2) {
        const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc;
        if (!strcmp(flag, "--contexts"))
            rc = parse_int(flag, v, 1, 64, &n_workers);
        else if (!strcmp(flag, "--requests"))
            rc = parse_int(flag, v, 1, 100000, &n_requests);
        else if (!strcmp(flag, "--n-predict"))
            rc = parse_int(flag, v, 1, MAX_OUT, &n_predict);
        else if (!strcmp(flag, "--threads"))
            rc = parse_int(flag, v, 1, 256, &n_threads);
        else {
            fprintf(stderr, "server: unknown option %s\n", flag);
            rc = 2;
        }
        if (rc)
            return rc;
    }

    int rc = 1, started = 0, queue_ready = 0, mismatches = 0;
    bitnet_context_params cp = bitnet_context_params_default();
    bitnet_sampler_params sp = bitnet_sampler_params_default();
    cp.n_threads = n_threads;
    sp.temperature = 0.0f; /* greedy: comparable with the reference run */
    bitnet_status s;
    bitnet_model *model = NULL;
    request *reqs = calloc((size_t)n_requests, sizeof *reqs);
    worker *workers = calloc((size_t)n_workers, sizeof *workers);
    pthread_t *threads = calloc((size_t)n_workers, sizeof *threads);
    queue q = {.cap = n_requests};
    q.items = calloc((size_t)n_requests, sizeof *q.items);
    bitnet_context *ref_ctx = NULL;
    bitnet_sampler *ref_smp = NULL;
    if (!reqs || !workers || !threads || !q.items) {
        rc = fail("server", BITNET_ERR_OUT_OF_MEMORY);
        goto done;
    }
    if (pthread_mutex_init(&q.lock, NULL)) {
        fprintf(stderr, "server: cannot create the queue's mutex\n");
        goto done;
    }
    if (pthread_cond_init(&q.ready, NULL)) {
        pthread_mutex_destroy(&q.lock);
        fprintf(stderr, "server: cannot create the queue's condition variable\n");
        goto done;
    }
    queue_ready = 1;

    /* One model for everyone; each context retains it. */
    if ((s = bitnet_model_load_file(argv[1], NULL, &model))) {
        rc = fail("cannot load the model", s);
        goto done;
    }
    for (int i = 0; i < n_workers; i++) {
        workers[i] = (worker){.id = i, .q = &q, .n_predict = n_predict};
        if ((s = bitnet_context_new(model, &cp, &workers[i].ctx)) ||
            (s = bitnet_sampler_new(&sp, &workers[i].sampler))) {
            rc = fail("cannot create a context", s);
            goto done;
        }
    }
    for (; started < n_workers; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &workers[started])) {
            fprintf(stderr, "server: cannot start worker %d\n", started);
            break;
        }

    /* The "network": requests arrive while the workers already run. */
    for (int i = 0; i < n_requests; i++) {
        reqs[i].prompt = PROMPTS[i % N_PROMPTS];
        queue_push(&q, &reqs[i]);
    }
    queue_close(&q);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (started < n_workers)
        goto done;

    /* Reference: each distinct prompt once, in one context on this thread. */
    bitnet_token expect[N_PROMPTS][MAX_OUT];
    int n_expect[N_PROMPTS];
    if ((s = bitnet_context_new(model, &cp, &ref_ctx)) || (s = bitnet_sampler_new(&sp, &ref_smp))) {
        rc = fail("cannot create the reference context", s);
        goto done;
    }
    for (int p = 0; p < N_PROMPTS && p < n_requests; p++)
        if ((s = generate(ref_ctx, ref_smp, PROMPTS[p], n_predict, expect[p], &n_expect[p]))) {
            rc = fail("reference run failed", s);
            goto done;
        }

    for (int i = 0; i < n_requests; i++) {
        request *r = &reqs[i];
        int p = i % N_PROMPTS;
        int same = r->status == BITNET_OK && r->n_out == n_expect[p] &&
                   !memcmp(r->out, expect[p], (size_t)r->n_out * sizeof *r->out);
        mismatches += !same;
        char text[4096];
        size_t len = 0;
        if (r->status || bitnet_detokenize(model, r->out, (size_t)r->n_out, 0, text, sizeof text - 1, &len))
            len = 0;
        text[len] = '\0';
        for (char *nl = strchr(text, '\n'); nl; nl = strchr(nl, '\n'))
            *nl = '/'; /* one line per request */
        printf("[%2d] worker %d %s: %s|%s\n", i, r->worker, same ? "ok      " : "MISMATCH", r->prompt, text);
        if (r->status)
            fprintf(stderr, "server: request %d failed: %s\n", i, bitnet_status_str(r->status));
    }
    for (int i = 0; i < n_workers; i++)
        printf("worker %d served %d requests\n", i, workers[i].served);
    printf("%d requests on %d contexts: %s\n", n_requests, n_workers,
           mismatches ? "MISMATCHES against the single-context run" : "all match the single-context run");
    rc = mismatches ? 1 : 0;

done:
    bitnet_sampler_free(ref_smp);
    bitnet_context_free(ref_ctx);
    for (int i = 0; workers && i < n_workers; i++) {
        bitnet_sampler_free(workers[i].sampler);
        bitnet_context_free(workers[i].ctx);
    }
    bitnet_model_release(model); /* the last context freed above held the other references */
    if (queue_ready) {
        pthread_cond_destroy(&q.ready);
        pthread_mutex_destroy(&q.lock);
    }
    free(q.items);
    free(threads);
    free(workers);
    free(reqs);
    return rc;
}
