/*
 * ssl_compat: a tiny shared library that lets Debian 12's libcivetweb1 use
 * OpenSSL 3 for HTTPS.
 *
 * That civetweb is built for OpenSSL 1.1's API and loads "libssl.so" at run
 * time, asking for every function it uses by name. OpenSSL 3 no longer
 * exports SSL_get_peer_certificate (a macro for SSL_get1_peer_certificate
 * now), so civetweb's TLS initialisation fails. This library carries the
 * soname "libssl.so" and depends on the real libssl.so.3: tsvault loads it
 * first (tls.c), civetweb's dlopen("libssl.so") then resolves to it by
 * soname, and civetweb's look-ups find the one missing function here and
 * every other one in libssl.so.3.
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s) { return SSL_get1_peer_certificate(s); }
