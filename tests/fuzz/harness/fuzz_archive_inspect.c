/*
 * fuzz_archive_inspect: what a Files API upload runs on a staged file
 * (storage/archive_detect.h): format and compression detection, the backup
 * plan (manifests against members) and the complete validation of every
 * shard tar and TSM file in it, on arbitrary bytes written to a file.
 * Properties: the validation's scratch directory is left empty whatever the
 * input, and a file found to be a backup also yields a plan.
 */
#include "archive_detect.h"
#include "fuzz_util.h"
#include "tsm_trust.h"

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *root = fuzz_scratch();
    fuzz_empty_dir(root);
    char path[512], scratch[512];
    fuzz_write_file("staged", data, size, path, sizeof path);
    snprintf(scratch, sizeof scratch, "%s/check", root);
    FUZZ_CHECK(mkdir(scratch, 0755) == 0);
    tsv_data_format format;
    tsv_compression compression;
    tsv_tsm_trust trust = {0};
    tsv_error err;
    int rc = tsv_archive_inspect_ex(path, scratch, &format, &compression, &trust, &err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(dir_is_empty(scratch));
    tsv_tsm_trust_clear(&trust);
    if (rc == 0 &&
        (format == TSV_FORMAT_INFLUX_BACKUP || format == TSV_FORMAT_INFLUXDB1_PORTABLE)) {
        tsv_backup_plan plan;
        memset(&plan, 0, sizeof plan);
        FUZZ_CHECK(tsv_backup_plan_scan(path, &plan, &err) == 0);
        tsv_backup_plan_clear(&plan);
    }
    return 0;
}
