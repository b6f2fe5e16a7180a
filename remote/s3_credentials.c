/* s3_credentials: where AWS tools look for keys (s3_client.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_client.h"

static int copy_field(char *dst, size_t cap, const char *v, const char *what, tsv_error *err)
{
    size_t n = strlen(v);
    if (n >= cap)
        return tsv_error_set(err, TSV_EINVALID, "%s is too long (%zu bytes)", what, n);
    memcpy(dst, v, n + 1);
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The INI section [profile] (or [profile NAME], the config file's
 * spelling) of an AWS credentials file. */
static int from_file(const char *path, const char *profile, tsv_s3_credentials *out, tsv_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINVALID, errno, "S3 credentials file %s", path);
    char line[4096];
    int in = 0, found = 0;
    out->access_key[0] = out->secret_key[0] = out->session_token[0] = '\0';
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || *l == '\0')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (!end)
                continue;
            *end = '\0';
            char *name = trim(l + 1);
            if (strncmp(name, "profile ", 8) == 0)
                name = trim(name + 8);
            in = strcmp(name, profile) == 0;
            found |= in;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || !eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        if (strcmp(k, "aws_access_key_id") == 0)
            rc = copy_field(out->access_key, sizeof out->access_key, v, "aws_access_key_id", err);
        else if (strcmp(k, "aws_secret_access_key") == 0)
            rc = copy_field(out->secret_key, sizeof out->secret_key, v, "aws_secret_access_key",
                            err);
        else if (strcmp(k, "aws_session_token") == 0)
            rc = copy_field(out->session_token, sizeof out->session_token, v, "aws_session_token",
                            err);
    }
    fclose(f);
    if (rc != 0)
        return tsv_error_wrap(err, "S3 credentials file %s [%s]", path, profile);
    if (!found)
        return tsv_error_set(err, TSV_EINVALID, "S3 credentials file %s has no section [%s]", path,
                             profile);
    if (!out->access_key[0] || !out->secret_key[0])
        return tsv_error_set(err, TSV_EINVALID,
                             "S3 credentials file %s [%s] lacks aws_access_key_id or "
                             "aws_secret_access_key",
                             path, profile);
    snprintf(out->source, sizeof out->source, "%s [%s]", path, profile);
    return 0;
}

int tsv_s3_credentials_load(const char *file, const char *profile, tsv_s3_credentials *out,
                            tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!profile || !*profile)
        profile = getenv("AWS_PROFILE");
    if (!profile || !*profile)
        profile = "default";
    if (file && *file)
        return from_file(file, profile, out, err);
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        const char *tok = getenv("AWS_SESSION_TOKEN");
        if (copy_field(out->access_key, sizeof out->access_key, ak, "AWS_ACCESS_KEY_ID", err) ||
            copy_field(out->secret_key, sizeof out->secret_key, sk, "AWS_SECRET_ACCESS_KEY", err) ||
            copy_field(out->session_token, sizeof out->session_token, tok ? tok : "",
                       "AWS_SESSION_TOKEN", err))
            return -1;
        snprintf(out->source, sizeof out->source, "environment");
        return 0;
    }
    const char *shared = getenv("AWS_SHARED_CREDENTIALS_FILE");
    char home_file[1024];
    if (!shared || !*shared) {
        const char *home = getenv("HOME");
        if (home && *home &&
            snprintf(home_file, sizeof home_file, "%s/.aws/credentials", home) <
                (int)sizeof home_file) {
            FILE *f = fopen(home_file, "r");
            if (f) {
                fclose(f);
                shared = home_file;
            }
        }
    }
    if (shared && *shared)
        return from_file(shared, profile, out, err);
    return tsv_error_set(err, TSV_EINVALID,
                         "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                         "or give --s3-credentials-file (an AWS credentials file)");
}
