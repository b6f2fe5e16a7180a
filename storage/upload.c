/* upload: request bodies into temp files next to the live data. */
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "fault.h"
#include "fsutil.h"
#include "random.h"

#define CHUNK (1024 * 1024)

static int receive(const char *tmp_dir, const char *suffix, tsv_reader *in, int durable,
                   tsv_upload *out, tsv_error *err)
{
    out->size = 0;
    if (tsv_path_join(out->path, sizeof out->path, err, "%s/upload-%016" PRIx64 "%s", tmp_dir,
                      tsv_random_u64(), suffix) != 0)
        return -1;
    int fd = open(out->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", out->path);
    uint8_t *buf = malloc(CHUNK);
    int rc = buf ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    while (rc == 0) {
        ssize_t n = tsv_read(in, buf, CHUNK, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        rc = tsv_fault_check("upload-write", err);
        if (rc == 0)
            rc = tsv_write_all(fd, buf, (size_t)n, out->path, err);
        out->size += (uint64_t)n;
    }
    free(buf);
    if (rc == 0 && durable)
        rc = tsv_fsync_fd(fd, out->path, err);
    if (close(fd) != 0 && rc == 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", out->path);
    if (rc != 0) {
        unlink(out->path);
        out->path[0] = '\0';
    }
    return rc;
}

int tsv_upload_receive(const char *tmp_dir, const char *suffix, tsv_reader *in, tsv_upload *out,
                       tsv_error *err)
{
    return receive(tmp_dir, suffix, in, 1, out, err);
}

int tsv_upload_receive_scratch(const char *tmp_dir, const char *suffix, tsv_reader *in,
                               tsv_upload *out, tsv_error *err)
{
    return receive(tmp_dir, suffix, in, 0, out, err);
}

void tsv_upload_discard(tsv_upload *u)
{
    if (u && u->path[0]) {
        unlink(u->path);
        u->path[0] = '\0';
    }
}
