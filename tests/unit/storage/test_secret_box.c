/* Unit tests for secret_box: key file, sealing, authentication. */
#include "harness.h"

#include <sys/stat.h>

#include "secret_box.h"

static void test_roundtrip(void **state)
{
    (void)state;
    tsv_secret_box *b = NULL;
    OK(tsv_secret_box_open(&b, harness_scratch, &E));
    char key[PATH_MAX];
    harness_at(key, "secret.key");
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);

    tsv_buf sealed = {0};
    OK(tsv_secret_seal(b, "conn-a", "my-token", 8, &sealed, &E));
    assert_null(memmem(sealed.data, sealed.len, "my-token", 8));
    char *plain = NULL;
    size_t len = 0;
    OK(tsv_secret_unseal(b, "conn-a", sealed.data, sealed.len, &plain, &len, &E));
    assert_int_equal(len, 8);
    assert_string_equal(plain, "my-token");
    tsv_secret_wipe_free(plain, len);

    /* another label (connection) does not open it */
    FAILS(tsv_secret_unseal(b, "conn-b", sealed.data, sealed.len, &plain, &len, &E), TSV_EINTERNAL);
    assert_null(strstr(E.message, "my-token"));
    /* a flipped byte does not authenticate */
    sealed.data[sealed.len - 1] ^= 1;
    FAILS(tsv_secret_unseal(b, "conn-a", sealed.data, sealed.len, &plain, &len, &E), TSV_EINTERNAL);
    sealed.data[sealed.len - 1] ^= 1;
    tsv_secret_box_free(b);

    /* reopening reads the same key */
    OK(tsv_secret_box_open(&b, harness_scratch, &E));
    OK(tsv_secret_unseal(b, "conn-a", sealed.data, sealed.len, &plain, &len, &E));
    assert_string_equal(plain, "my-token");
    tsv_secret_wipe_free(plain, len);
    tsv_secret_box_free(b);
    tsv_buf_free(&sealed);

    /* a key readable by others is refused */
    assert_int_equal(chmod(key, 0644), 0);
    FAILS(tsv_secret_box_open(&b, harness_scratch, &E), TSV_EINTERNAL);
    assert_non_null(strstr(E.message, "chmod 600"));
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(truncate(key, 10), 0);
    FAILS(tsv_secret_box_open(&b, harness_scratch, &E), TSV_EINTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
