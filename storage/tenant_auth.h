/* tenant_auth: authorizations (tokens), token lookup, permissions and
 * password hashing, implemented in tenant_auth.c. The declarations live in
 * tenant.h with the records they work on; this header names the module for
 * callers that only need the auth side. Same conventions as tenant.h. */
#ifndef TSV_TENANT_AUTH_H
#define TSV_TENANT_AUTH_H

#include "tenant.h"

#endif
