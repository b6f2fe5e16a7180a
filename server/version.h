/* version: tsvault's own version, the InfluxDB API version it reports, and
 * the git commit it was built from. Static strings; thread-safe. */
#ifndef TSV_VERSION_H
#define TSV_VERSION_H
const char *tsv_version(void);
const char *tsv_influx_compat_version(void);
const char *tsv_git_commit(void);
#endif
