/*
 * fuzz_archive_inspect: what a Files API upload runs on a staged file
 * (storage/archive_detect.h): format and compression detection, the backup
 * plan (manifests against members) and the complete validation of every
 * shard tar and TSM file in it, on arbitrary bytes written to a file.
 * Properties: the validation's scratch directory is left empty whatever the
 * input, and a file found to be a backup also yields a plan.
 */
#include "fuzz_storage.h"

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
    fuzz_empty_dir(fuzz_scratch());
    char path[512], scratch[512];
    tsv_data_format format;
    tsv_compression compression;
    tsv_tsm_trust trust = {0};
    tsv_error err;
    int rc = fuzz_inspect_staged(data, size, path, sizeof path, scratch, sizeof scratch, &format,
                                 &compression, &trust, &err);
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
