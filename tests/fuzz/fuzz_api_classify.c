/* Fuzz target: the answer classification (common/wdtapi/wdt_api_answer.c). Input: byte 0
 * picks the HTTP status, byte 1 the transport and list-eliding settings, the rest is the
 * body. Whatever the body, the result has a class and kind in range and a bounded
 * message without control characters; the API's text and code are bounded and clean. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/err.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_api_classify: %s:%d: check failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                                        \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Most bytes of a message: a rule's text (under 600 bytes) with the API's text cut at 300
 * and the context's names. */
#define MESSAGE_MAX 2048

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* Text safe for logs, JSON and terminals: valid UTF-8 without C0 controls, DEL or C1
 * controls (U+0080-U+009F). */
static void check_clean(const char *s, size_t max)
{
    if (s == NULL)
        return;
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    CHECK(n <= max);
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            CHECK(u[i] >= 0x20 && u[i] != 0x7f);
            i++;
            continue;
        }
        size_t len = utf8_seq(u + i, n - i);
        CHECK(len > 0);
        CHECK(u[i] != 0xc2 || u[i + 1] > 0x9f);
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[16] = {200, 200, 200, 200, 201, 204, 0,   100,
                                      301, 400, 401, 404, 408, 429, 500, 502};
    static const char *const members[] = {"trade_id", "trade_no", "modified"};
    static const char *const secrets[] = {"appsecret-0123456789", "key1-appkey"};
    if (size < 2)
        return 0;
    unsigned b0 = data[0], b1 = data[1];
    const char *body = (const char *)data + 2;
    size_t body_len = size - 2;

    struct wdts_api_outcome o;
    memset(&o, 0, sizeof(o));
    o.http_status = statuses[b0 & 15];
    o.body = body_len == 0 && (b0 & 16) ? NULL : body;
    o.body_len = body_len;
    if ((b1 & 0xe0) == 0xe0) { /* rarely: no complete answer */
        o.transport = (b1 & 1) ? WDTS_ERR_TIMEOUT : WDTS_ERR_IO;
        o.transport_detail = (b1 & 2) ? "Operation timed out after 30000 ms" : NULL;
    }
    o.answer_too_large = (b1 & 0xf0) == 0xd0;
    if (b1 & 1) {
        o.elide_list = (b1 & 2) ? "order" : "stockin_list";
        o.elide_members = members;
        o.elide_nmembers = (b1 >> 2) & 3;
        o.elide_max_records = (b1 & 16) ? 3 : 0;
    }
    struct wdts_api_ctx ctx = {(b0 & 32) ? WDTS_API_APP_QIMEN : WDTS_API_APP_WDT, "trade.query",
                               "sid1", "key1-appkey", "http://127.0.0.1:1/openapi"};

    struct wdts_api_result res;
    wdts_api_result_init(&res);
    wdts_api_classify(&o, (b0 & 64) ? NULL : &ctx, &res);

    CHECK((unsigned)res.cls < WDTS_API_CLASS__COUNT);
    CHECK((unsigned)res.kind < WDTS_API_KIND__COUNT);
    CHECK(res.message != NULL && res.message[0] != '\0');
    check_clean(res.message, MESSAGE_MAX);
    check_clean(res.api_message, WDTS_API_TEXT_MAX + 3); /* then "…" */
    check_clean(res.code, WDTS_API_CODE_MAX + 3);
    CHECK(res.http_status == o.http_status);
    if (res.inner != NULL || res.data != NULL)
        CHECK(res.answer != NULL);
    if (res.list_elided) {
        CHECK(res.cls == WDTS_API_OK && o.elide_list != NULL && res.data != NULL);
        CHECK(res.list.off < body_len && res.list.len <= body_len - res.list.off);
        CHECK(o.elide_max_records == 0 || res.list.n <= o.elide_max_records);
        for (size_t i = 0; i < res.list.n; i++)
            CHECK(res.list.items[i].off >= res.list.off &&
                  res.list.items[i].off + res.list.items[i].len <= res.list.off + res.list.len);
    } else {
        CHECK(res.list.items == NULL && res.list.n == 0);
    }
    /* the scrubbing of echoed secrets keeps the message whole and clean */
    wdts_api_result_redact(&res, secrets, 2);
    CHECK(res.message != NULL && strstr(res.message, secrets[0]) == NULL);
    check_clean(res.message, MESSAGE_MAX);
    wdts_api_result_deinit(&res);
    CHECK(res.message == NULL && res.answer == NULL);
    return 0;
}
