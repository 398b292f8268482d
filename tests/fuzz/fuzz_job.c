/* Fuzz target: the job decoder (common/model/job.c). Any bytes: no crash, and a failure
 * says why; a job it accepts encodes to bytes that decode to the same job and encode to
 * the same bytes again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/job.h"
#include "wdts/str.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_job: %s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static int same_job(const struct wdts_job *a, const struct wdts_job *b)
{
    return a->v == b->v && strcmp(a->job_id, b->job_id) == 0 &&
           strcmp(a->tenant, b->tenant) == 0 && strcmp(a->connection, b->connection) == 0 &&
           strcmp(a->report, b->report) == 0 && a->start == b->start && a->end == b->end &&
           a->kind == b->kind && a->attempt == b->attempt && a->emitted_at == b->emitted_at &&
           a->split_depth == b->split_depth && a->parent_total == b->parent_total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wdts_job job, again;
    char es[256];
    es[0] = '\0';
    memset(&job, 0x5a, sizeof(job));
    wdts_err_t err = wdts_job_decode(data, size, &job, es, sizeof(es));
    CHECK(err == WDTS_OK || err == WDTS_ERR_JSON || err == WDTS_ERR_INVAL);
    CHECK(memchr(es, '\0', sizeof(es)) != NULL);
    if (err != WDTS_OK) {
        CHECK(es[0] != '\0');
        return 0;
    }
    CHECK(job.v == WDTS_JOB_VERSION && job.end > job.start);
    CHECK(wdts_job_name_valid(job.tenant) && wdts_job_name_valid(job.connection) &&
          wdts_job_name_valid(job.report));
    struct wdts_buf one, two;
    wdts_buf_init(&one);
    wdts_buf_init(&two);
    wdts_job_encode(&job, &one);
    err = wdts_job_decode(one.data, one.len, &again, es, sizeof(es));
    if (err != WDTS_OK)
        fprintf(stderr, "fuzz_job: re-encoded job refused: %s\n%s\n", es, wdts_buf_str(&one));
    CHECK(err == WDTS_OK);
    CHECK(same_job(&job, &again));
    wdts_job_encode(&again, &two);
    CHECK(one.len == two.len && memcmp(one.data, two.data, one.len) == 0);
    wdts_buf_deinit(&one);
    wdts_buf_deinit(&two);
    return 0;
}
