/*
 * Unit tests for remote/s3_credentials (tsv_s3_credentials_load): keys from
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, from an AWS
 * credentials file ([default], [name], [profile name]; AWS_PROFILE), an
 * explicit file beating the environment, AWS_SHARED_CREDENTIALS_FILE and
 * $HOME/.aws/credentials, and the errors naming file, section and key.
 */
#include "harness.h"

#include "s3_client.h"

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN", "AWS_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE"};

/* A scratch directory as HOME (with no .aws/), and none of the AWS_*
 * variables of the caller. */
static int setup(void **state)
{
    harness_scratch_setup(state);
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    setenv("HOME", harness_scratch, 1);
    return 0;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    return harness_scratch_teardown(state);
}

static const char FILE_TEXT[] = "# keys for tests\n"
                                "[default]\n"
                                "aws_access_key_id = AKIDDEFAULT\n"
                                "aws_secret_access_key=secret-default\n"
                                "\n"
                                "; a comment\n"
                                "[profile backup]\n"
                                "  aws_access_key_id   =   AKIDBACKUP  \n"
                                "aws_secret_access_key = secret/backup+x=\n"
                                "aws_session_token = tok-backup\n"
                                "region = eu-west-1\n"
                                "[plain]\n"
                                "aws_access_key_id=AKIDPLAIN\n"
                                "aws_secret_access_key=secret-plain\n"
                                "[half]\n"
                                "aws_access_key_id=AKIDHALF\n"
                                "[nokey]\n"
                                "aws_secret_access_key=only-secret\n";

static void load_ok(const char *file, const char *profile, tsv_s3_credentials *c)
{
    memset(c, 0x5a, sizeof *c);
    OK(tsv_s3_credentials_load(file, profile, c, &E));
}

static void load_fails(const char *file, const char *profile, const char *want)
{
    tsv_s3_credentials c;
    FAILS(tsv_s3_credentials_load(file, profile, &c, &E), TSV_EINVALID);
    if (!strstr(E.message, want))
        fail_msg("\"%s\" lacks \"%s\"", E.message, want);
}

/* Fails unless c holds each of the fields given (NULL: not checked). */
static void creds_are(const tsv_s3_credentials *c, const char *access_key, const char *secret_key,
                      const char *session_token, const char *source)
{
    if (access_key)
        assert_string_equal(c->access_key, access_key);
    if (secret_key)
        assert_string_equal(c->secret_key, secret_key);
    if (session_token)
        assert_string_equal(c->session_token, session_token);
    if (source)
        assert_string_equal(c->source, source);
}

/* FILE_TEXT as the file "creds" of the scratch directory; its path into
 * file (PATH_MAX bytes). */
static void creds_file(char *file)
{
    harness_put("creds", FILE_TEXT);
    harness_at(file, "creds");
}

static void test_environment(void **state)
{
    (void)state;
    tsv_s3_credentials c;
    load_fails(NULL, NULL,
               "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give "
               "--s3-credentials-file");
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    load_fails(NULL, NULL, "no S3 credentials"); /* half a pair is none */
    setenv("AWS_SECRET_ACCESS_KEY", "", 1);
    load_fails(NULL, NULL, "no S3 credentials");
    setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
    load_ok(NULL, NULL, &c);
    creds_are(&c, "AKIDENV", "secret-env", "", "environment");
    setenv("AWS_SESSION_TOKEN", "tok-env", 1);
    load_ok("", "whatever", &c); /* "" is no file; the profile only names file sections */
    creds_are(&c, NULL, NULL, "tok-env", "environment");

    /* Too long for the fixed fields: refused, naming the variable. */
    char longkey[400];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    setenv("AWS_SECRET_ACCESS_KEY", longkey, 1);
    load_fails(NULL, NULL, "AWS_SECRET_ACCESS_KEY is too long (399 bytes)");
}

static void test_file_sections(void **state)
{
    (void)state;
    char file[PATH_MAX];
    creds_file(file);
    tsv_s3_credentials c;

    load_ok(file, NULL, &c);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "%s [default]", file);
    creds_are(&c, "AKIDDEFAULT", "secret-default", "", want);

    /* [profile backup] answers to "backup"; spaces around keys and values
     * are trimmed; "=" inside a value is kept; other keys are ignored. */
    load_ok(file, "backup", &c);
    snprintf(want, sizeof want, "%s [backup]", file);
    creds_are(&c, "AKIDBACKUP", "secret/backup+x=", "tok-backup", want);
    load_ok(file, "plain", &c);
    creds_are(&c, "AKIDPLAIN", NULL, "", NULL);

    /* AWS_PROFILE picks the section when none is given; an explicit one wins. */
    setenv("AWS_PROFILE", "plain", 1);
    load_ok(file, NULL, &c);
    assert_string_equal(c.access_key, "AKIDPLAIN");
    load_ok(file, "backup", &c);
    assert_string_equal(c.access_key, "AKIDBACKUP");
    setenv("AWS_PROFILE", "", 1);
    load_ok(file, NULL, &c);
    assert_string_equal(c.access_key, "AKIDDEFAULT");
    unsetenv("AWS_PROFILE");

    /* Missing keys, a missing section, a missing file. */
    snprintf(want, sizeof want,
             "S3 credentials file %s [half] lacks aws_access_key_id or aws_secret_access_key",
             file);
    load_fails(file, "half", want);
    load_fails(file, "nokey", "[nokey] lacks aws_access_key_id or aws_secret_access_key");
    snprintf(want, sizeof want, "S3 credentials file %s has no section [nosuch]", file);
    load_fails(file, "nosuch", want);
    setenv("AWS_PROFILE", "gone", 1);
    load_fails(file, NULL, "has no section [gone]");
    unsetenv("AWS_PROFILE");
    char missing[PATH_MAX];
    harness_at(missing, "no-such-file");
    snprintf(want, sizeof want, "S3 credentials file %s", missing);
    load_fails(missing, NULL, want);
    load_fails(missing, NULL, "No such file or directory");

    /* Keys before any section belong to none; a key too long is named. */
    harness_put("nosection", "aws_access_key_id=A\naws_secret_access_key=B\n");
    char f2[PATH_MAX];
    harness_at(f2, "nosection");
    load_fails(f2, NULL, "has no section [default]");
    char text[1200];
    char longv[600];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    snprintf(text, sizeof text, "[default]\naws_access_key_id=%s\naws_secret_access_key=s\n",
             longv);
    harness_put("long", text);
    harness_at(f2, "long");
    load_fails(f2, NULL, "aws_access_key_id is too long (599 bytes)");
    load_fails(f2, NULL, "[default]");
}

static void test_file_beats_environment(void **state)
{
    (void)state;
    char file[PATH_MAX];
    creds_file(file);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
    setenv("AWS_SESSION_TOKEN", "tok-env", 1);
    tsv_s3_credentials c;
    load_ok(file, NULL, &c);
    assert_string_equal(c.access_key, "AKIDDEFAULT");
    assert_string_equal(c.session_token, ""); /* not the environment's token */
    /* ...also when the file's section is incomplete: no silent fallback. */
    load_fails(file, "half", "lacks aws_access_key_id or aws_secret_access_key");
}

static void test_shared_file_and_home(void **state)
{
    (void)state;
    tsv_s3_credentials c;
    /* $HOME/.aws/credentials when nothing else is set. */
    harness_put(".aws/credentials", "[default]\naws_access_key_id=AKIDHOME\n"
                                    "aws_secret_access_key=secret-home\n"
                                    "[other]\naws_access_key_id=AKIDHOME2\n"
                                    "aws_secret_access_key=secret-home2\n");
    char home_file[PATH_MAX], want[PATH_MAX + 128];
    harness_at(home_file, ".aws/credentials");
    load_ok(NULL, NULL, &c);
    assert_string_equal(c.access_key, "AKIDHOME");
    snprintf(want, sizeof want, "%s [default]", home_file);
    assert_string_equal(c.source, want);
    load_ok(NULL, "other", &c);
    assert_string_equal(c.access_key, "AKIDHOME2");
    load_fails(NULL, "nosuch", "has no section [nosuch]");

    /* The environment's keys come before the home file. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
    load_ok(NULL, NULL, &c);
    assert_string_equal(c.access_key, "AKIDENV");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* AWS_SHARED_CREDENTIALS_FILE replaces the home file. */
    harness_put("shared", "[default]\naws_access_key_id=AKIDSHARED\n"
                          "aws_secret_access_key=secret-shared\n");
    char shared[PATH_MAX];
    harness_at(shared, "shared");
    setenv("AWS_SHARED_CREDENTIALS_FILE", shared, 1);
    load_ok(NULL, NULL, &c);
    assert_string_equal(c.access_key, "AKIDSHARED");
    snprintf(want, sizeof want, "%s [default]", shared);
    assert_string_equal(c.source, want);
    /* ...even when it lacks the profile (no fallback to the home file). */
    load_fails(NULL, "other", "has no section [other]");
    /* A shared file that does not exist is an error naming it. */
    char missing[PATH_MAX];
    harness_at(missing, "gone");
    setenv("AWS_SHARED_CREDENTIALS_FILE", missing, 1);
    snprintf(want, sizeof want, "S3 credentials file %s", missing);
    load_fails(NULL, NULL, want);
    /* Empty: as unset. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "", 1);
    load_ok(NULL, NULL, &c);
    assert_string_equal(c.access_key, "AKIDHOME");
    /* No home file and no HOME: no credentials. */
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    char home_dir[PATH_MAX];
    harness_at(home_dir, ".aws");
    assert_int_equal(harness_rmtree(home_dir), 0);
    load_fails(NULL, NULL, "no S3 credentials");
    unsetenv("HOME");
    load_fails(NULL, NULL, "no S3 credentials");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_beats_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_file_and_home, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
