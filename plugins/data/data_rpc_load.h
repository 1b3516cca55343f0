/*
 * Start-up reading of the callable functions (data_rpc.h), one loader per
 * backend, run by its open() on the connection that read the tables. A
 * function that is missing, ambiguous or cannot be called the API's way
 * fails the start with a message naming it.
 */
#ifndef DATA_RPC_LOAD_H
#define DATA_RPC_LOAD_H

#include <stddef.h>

#include "data_conf.h"
#include "data_rpc.h"

/* SQLite: prepares every rpc.NAME query of conf (sqlite3 *db) to check it
 * and read its result columns; a query that writes is marked so. */
int data_rpc_load_sqlite(void *db, const data_conf_t *conf, data_rpc_t *rpc, char *err, size_t errlen);

/* PostgreSQL: reads every function of conf->functions from pg_proc
 * (PGconn *conn): its arguments, result and volatility. */
int data_rpc_load_pg(void *conn, const data_conf_t *conf, data_rpc_t *rpc, char *err, size_t errlen);

/* MySQL/MariaDB: reads every routine of conf->functions (MYSQL *conn)
 * from information_schema.ROUTINES and PARAMETERS: a stored function is
 * a scalar, a procedure (IN parameters only) a set of rows. A routine
 * may change data unless declared NO SQL or READS SQL DATA. */
int data_rpc_load_mysql(void *conn, const data_conf_t *conf, data_rpc_t *rpc, char *err, size_t errlen);

#endif
