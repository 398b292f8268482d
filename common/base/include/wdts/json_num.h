/* Numbers read from jansson values that may arrive in more than one form (a JSON number
 * or a numeric string), as gateways and stored records send them. Nothing is parsed from
 * text here; that is jansson's job. */
#ifndef WDTS_JSON_NUM_H
#define WDTS_JSON_NUM_H

#include <jansson.h>

/** Reads a JSON integer that may come as a number or a numeric string. @returns 0 when
 *  v is neither (then *out is untouched). */
int wdts_json_int(const json_t *v, long long *out);

#endif
