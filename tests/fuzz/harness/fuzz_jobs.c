/*
 * fuzz_jobs: the Jobs API's JSON bodies (jobs/jobs.c): POST /api/v2/jobs
 * (type, source, target with bucket/table/org names, the Polaris fields)
 * and PATCH's {"desiredExecutionStatus": ...}, against a real store and
 * Files area in a scratch directory. No file is staged, so a request that
 * parses completely stops at "source.fileName not staged" and no job runs;
 * everything before that is the parser under test.
 */
#include "files_store.h"
#include "fuzz_storage.h"
#include "jobs.h"

static tsv_jobs *jobs;

static void setup(void)
{
    char dir[512];
    tsv_store *s = fuzz_store_open(dir, sizeof dir);
    tsv_files *f = NULL;
    tsv_error err;
    tsv_files_options fo = {.data_dir = dir};
    tsv_jobs_options jo = {.workers = 1, .retention_s = -1};
    if (tsv_files_open(&f, &fo, &err) != 0 || tsv_jobs_open(&jobs, s, f, &jo, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!jobs)
        setup();
    tsv_job_user u = {.id = "", .name = "operator", .org_id = "0000000000000001"};
    tsv_buf out = {0};
    tsv_error err;
    int rc = tsv_jobs_create(jobs, (const char *)data, size, &u, &out, &err);
    /* Nothing is staged: a job can never be created. */
    FUZZ_CHECK(rc != 0);
    tsv_buf_free(&out);
    tsv_buf out2 = {0};
    tsv_jobs_update(jobs, "00000000-0000-0000-0000-000000000000", (const char *)data, size, &u,
                    &out2, &err);
    tsv_buf_free(&out2);
    return 0;
}
