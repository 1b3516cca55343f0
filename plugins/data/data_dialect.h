/*
 * Which SQL the data plugin writes: each backend names its dialect
 * (data_db.h), and the pure parts (casts, SQL text) take it as an input.
 */
#ifndef DATA_DIALECT_H
#define DATA_DIALECT_H

typedef enum data_dialect {
    DATA_DIALECT_SQLITE,
    DATA_DIALECT_PG,
    DATA_DIALECT_MYSQL /* MySQL and MariaDB */
} data_dialect_t;

#endif
