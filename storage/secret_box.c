/* secret_box: see secret_box.h. */
#include "secret_box.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "random.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define MAGIC "tsv1"
#define MAGIC_LEN 4

struct tsv_secret_box {
    unsigned char key[KEY_LEN];
};

static int read_key(const char *path, unsigned char key[KEY_LEN], tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 1
                               : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", path);
    else if ((st.st_mode & 077) != 0)
        rc = tsv_error_set(err, TSV_EINTERNAL,
                           "key file %s is readable by others (mode %03o); chmod 600 it", path,
                           (unsigned)(st.st_mode & 0777));
    else if (st.st_size != KEY_LEN)
        rc = tsv_error_set(err, TSV_EINTERNAL, "key file %s has %lld bytes, not %d", path,
                           (long long)st.st_size, KEY_LEN);
    else if (read(fd, key, KEY_LEN) != KEY_LEN)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", path);
    close(fd);
    return rc;
}

/* A new key: written whole to a temp file, then linked to the final name,
 * which fails with EEXIST if another process got there first. */
static int create_key(const char *dir, const char *path, tsv_error *err)
{
    char tmp[4096];
    if (tsv_path_join(tmp, sizeof tmp, err, "%s/.secret.key.tmp-%016llx", dir,
                      (unsigned long long)tsv_random_u64()) != 0)
        return -1;
    unsigned char key[KEY_LEN];
    if (RAND_bytes(key, KEY_LEN) != 1)
        return tsv_error_set(err, TSV_EINTERNAL, "no random bytes for the key");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", tmp);
    int rc = tsv_write_all(fd, key, KEY_LEN, tmp, err);
    OPENSSL_cleanse(key, sizeof key);
    if (rc == 0)
        rc = tsv_fsync_fd(fd, tmp, err);
    close(fd);
    if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", path);
    unlink(tmp);
    if (rc == 0)
        rc = tsv_fsync_dir(dir, err);
    return rc;
}

int tsv_secret_box_open(tsv_secret_box **out, const char *dir, tsv_error *err)
{
    char path[4096];
    if (tsv_mkdir_p(dir, err) != 0 ||
        tsv_path_join(path, sizeof path, err, "%s/secret.key", dir) != 0)
        return -1;
    tsv_secret_box *b = calloc(1, sizeof *b);
    if (!b)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = read_key(path, b->key, err);
    if (rc == 1 && (rc = create_key(dir, path, err)) == 0)
        rc = read_key(path, b->key, err);
    if (rc != 0) {
        tsv_secret_box_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

void tsv_secret_box_free(tsv_secret_box *b)
{
    if (!b)
        return;
    OPENSSL_cleanse(b->key, sizeof b->key);
    free(b);
}

void tsv_secret_wipe_free(char *p, size_t len)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

int tsv_secret_seal(const tsv_secret_box *b, const char *label, const void *plain, size_t len,
                    tsv_buf *out, tsv_error *err)
{
    if (len > (1u << 20))
        return tsv_error_set(err, TSV_EINVALID, "secret too long (%zu bytes, at most 1 MiB)", len);
    unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
    unsigned char *ct = malloc(len ? len : 1);
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    int rc = -1, n = 0, fin = 0;
    if (!ct || !cx) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (RAND_bytes(nonce, NONCE_LEN) != 1 ||
        EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(cx, NULL, NULL, b->key, nonce) != 1 ||
        EVP_EncryptUpdate(cx, NULL, &n, (const unsigned char *)label, (int)strlen(label)) != 1 ||
        EVP_EncryptUpdate(cx, ct, &n, plain, (int)len) != 1 ||
        EVP_EncryptFinal_ex(cx, ct + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        tsv_error_set(err, TSV_EINTERNAL, "AES-GCM encryption failed");
        goto out;
    }
    if (tsv_buf_append(out, MAGIC, MAGIC_LEN, err) != 0 ||
        tsv_buf_append(out, nonce, NONCE_LEN, err) != 0 ||
        tsv_buf_append(out, ct, (size_t)(n + fin), err) != 0 ||
        tsv_buf_append(out, tag, TAG_LEN, err) != 0)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(cx);
    if (ct)
        OPENSSL_cleanse(ct, len ? len : 1);
    free(ct);
    return rc;
}

int tsv_secret_unseal(const tsv_secret_box *b, const char *label, const void *sealed, size_t len,
                      char **plain, size_t *plain_len, tsv_error *err)
{
    const unsigned char *p = sealed;
    if (len < MAGIC_LEN + NONCE_LEN + TAG_LEN || memcmp(p, MAGIC, MAGIC_LEN) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "stored secret of \"%s\" is not in tsv1 form",
                             label);
    size_t ct_len = len - MAGIC_LEN - NONCE_LEN - TAG_LEN;
    const unsigned char *nonce = p + MAGIC_LEN, *ct = nonce + NONCE_LEN, *tag = ct + ct_len;
    char *pt = malloc(ct_len + 1);
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    int rc = -1, n = 0, fin = 0;
    if (!pt || !cx) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(cx, NULL, NULL, b->key, nonce) != 1 ||
        EVP_DecryptUpdate(cx, NULL, &n, (const unsigned char *)label, (int)strlen(label)) != 1 ||
        EVP_DecryptUpdate(cx, (unsigned char *)pt, &n, ct, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)tag) != 1 ||
        EVP_DecryptFinal_ex(cx, (unsigned char *)pt + n, &fin) != 1) {
        tsv_error_set(err, TSV_EINTERNAL,
                      "stored secret of \"%s\" does not authenticate (wrong secret.key?)", label);
        goto out;
    }
    pt[n + fin] = '\0';
    *plain = pt;
    *plain_len = (size_t)(n + fin);
    pt = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(cx);
    tsv_secret_wipe_free(pt, ct_len + 1);
    return rc;
}
