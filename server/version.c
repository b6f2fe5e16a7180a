/* version: the version strings the server reports. */
#include "version.h"

const char *tsv_version(void) { return TSV_VERSION; }
const char *tsv_influx_compat_version(void) { return TSV_INFLUX_COMPAT_VERSION; }
const char *tsv_git_commit(void) { return TSV_GIT_COMMIT; }
