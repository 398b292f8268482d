/* The method table (see sbx_method.h): one row per query method the sandbox
 * serves, as docs/API.md §5 describes it. Adding a report is adding a row here and
 * an entity in the data module. Approximations are said next to the row. */
#include "sbx_method.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define H60 (60 * 60)
#define D30 (30 * 24 * 60 * 60)

static const struct sbx_method methods[] = {
    /* time_type 1 modified (default), 2 pay time, 3 order time; 60 minutes. */
    {"sales.TradeQuery.queryWithDetail", "wdt.sales.tradequery.querywithdetail", 1, SBX_E_TRADE,
     "start_time", "end_time", "time_type", 0, 1,
     {{1, SBX_TIME_MODIFIED}, {2, SBX_TIME_PAID}, {3, SBX_TIME_CREATED}}, 3, H60, "60分钟", "order",
     SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 0},
    /* status_type is required: 0 = consign time; 1 (cancelled), 2 (pending) and 3 (by
     * status list) filter on modified time. The sandbox does not narrow 1/2/3 by status. */
    {"wms.stockout.Sales.queryWithDetail", "wdt.wms.stockout.sales.querywithdetail", 1,
     SBX_E_STOCKOUT, "start_time", "end_time", "status_type", 1, 0,
     {{0, SBX_TIME_CONSIGNED}, {1, SBX_TIME_MODIFIED}, {2, SBX_TIME_MODIFIED},
      {3, SBX_TIME_MODIFIED}},
     4, H60, "60分钟", "order", SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 0},
    /* Of the four time pairs the sandbox serves modified_from/modified_to. */
    {"aftersales.refund.Refund.search", "wdt.aftersales.refund.refund.search", 1, SBX_E_REFUND,
     "modified_from", "modified_to", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30, "30天", "order",
     SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 0},
    /* time_type 0 modified (default), 1 stock-in time (the record's creation here). */
    {"wms.stockin.Refund.queryWithDetail", "wdt.wms.stockin.refund.querywithdetail", 1,
     SBX_E_REFUND_STOCKIN, "start_time", "end_time", "time_type", 0, 0,
     {{0, SBX_TIME_MODIFIED}, {1, SBX_TIME_CREATED}}, 2, D30, "30天", "order", SBX_PAGE_REQUIRED,
     NULL, 0, NULL, NULL, 0},
    {"purchase.PurchaseOrder.queryWithDetail", "wdt.purchase.purchaseorder.querywithdetail", 1,
     SBX_E_PURCHASE_ORDER, "start_time", "end_time", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30,
     "30天", "order", SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 0},
    {"wms.stockin.Purchase.queryWithDetail", "wdt.wms.stockin.purchase.querywithdetail", 1,
     SBX_E_PURCHASE_STOCKIN, "start_time", "end_time", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1,
     D30, "30天", "order", SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 0},
    /* The Qimen scene names the stock query wdt.wms.stockspec.search (docs/API.md §6, the
     * official SDK's request class); there is no Qimen name for search2. */
    {"wms.StockSpec.search2", "wdt.wms.stockspec.search", 1, SBX_E_STOCK, "start_time", "end_time",
     NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30, "30天", "detail_list", SBX_PAGE_REQUIRED,
     NULL, 0, NULL, NULL, 0},
    {"wms.StockSpec.queryChangeHistory", "wdt.wms.stockspec.querychangehistory", 1,
     SBX_E_STOCK_CHANGE, "start_date", "end_date", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30,
     "30天", "data", SBX_PAGE_REQUIRED, "spec_no", H60,
     "不传商家编码,查询时间不能大于1小时", NULL, 0},
    {"goods.Goods.queryWithSpec", "wdt.goods.goods.querywithspec", 1, SBX_E_GOODS, "start_time",
     "end_time", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30, "30天", "goods_list",
     SBX_PAGE_REQUIRED, NULL, 0, NULL, "hide_deleted", 0},
    {"goods.Suite.search", "wdt.goods.suite.search", 1, SBX_E_SUITE, "start_time", "end_time", NULL,
     0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30, "30天", "suite_list", SBX_PAGE_REQUIRED, NULL, 0,
     NULL, "hide_deleted", 0},
    {"sales.RawTrade.search", "wdt.sales.rawtrade.search", 1, SBX_E_RAW_TRADE, "start_time",
     "end_time", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30, "30天", "order", SBX_PAGE_REQUIRED,
     NULL, 0, NULL, NULL, 0},
    /* The history (历史) methods serve only archived documents, with their parents' span,
     * list and keys. Their own pages differ in two: the stockout archive's status_type
     * defaults to 0 (consign time) and has no 3 (by status list), and the refund archive's
     * window is start_time/end_time (last change), not modified_from/modified_to. */
    {"sales.TradeQuery.queryHistoryWithDetail", "wdt.sales.tradequery.queryhistorywithdetail", 1,
     SBX_E_TRADE, "start_time", "end_time", "time_type", 0, 1,
     {{1, SBX_TIME_MODIFIED}, {2, SBX_TIME_PAID}, {3, SBX_TIME_CREATED}}, 3, H60, "60分钟", "order",
     SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 1},
    {"wms.stockout.Sales.queryHistoryWithDetail", "wdt.wms.stockout.sales.queryhistorywithdetail",
     1, SBX_E_STOCKOUT, "start_time", "end_time", "status_type", 0, 0,
     {{0, SBX_TIME_CONSIGNED}, {1, SBX_TIME_MODIFIED}, {2, SBX_TIME_MODIFIED}},
     3, H60, "60分钟", "order", SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 1},
    {"aftersales.refund.Refund.searchHistory", "wdt.aftersales.refund.refund.searchhistory", 1,
     SBX_E_REFUND, "start_time", "end_time", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30,
     "30天", "order", SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 1},
    {"wms.stockin.Refund.queryHisWithDetail", "wdt.wms.stockin.refund.queryhiswithdetail", 1,
     SBX_E_REFUND_STOCKIN, "start_time", "end_time", "time_type", 0, 0,
     {{0, SBX_TIME_MODIFIED}, {1, SBX_TIME_CREATED}}, 2, D30, "30天", "order", SBX_PAGE_REQUIRED,
     NULL, 0, NULL, NULL, 1},
    {"sales.RawTrade.searchHistory", "wdt.sales.rawtrade.searchhistory", 1, SBX_E_RAW_TRADE,
     "start_time", "end_time", NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, D30, "30天", "order",
     SBX_PAGE_REQUIRED, NULL, 0, NULL, NULL, 1},
    /* Snapshots: no window ("增量获取：不支持"); without a pager every row comes back. */
    {"setting.Shop.queryShop", "wdt.setting.shop.queryshop", 1, SBX_E_SHOP, NULL, NULL, NULL, 0, 0,
     {{0, SBX_TIME_MODIFIED}}, 1, 0, NULL, "details", SBX_PAGE_OPTIONAL, NULL, 0, NULL, NULL, 0},
    /* hide_delete: Int, 0 shows deleted warehouses; the default hides them. */
    {"setting.Warehouse.queryWarehouse", "wdt.setting.warehouse.querywarehouse", 1, SBX_E_WAREHOUSE,
     NULL, NULL, NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, 0, NULL, "details", SBX_PAGE_OPTIONAL,
     NULL, 0, NULL, "hide_delete", 0},
    /* The page leaves disabled carriers out, and documents hide_delete (boolean, true hides,
     * false shows): they come back only with false. */
    {"setting.Logistics.queryLogistics", "wdt.setting.logistics.querylogistics", 1, SBX_E_LOGISTICS,
     NULL, NULL, NULL, 0, 0, {{0, SBX_TIME_MODIFIED}}, 1, 0, NULL, "details", SBX_PAGE_OPTIONAL,
     NULL, 0, NULL, "hide_delete", 0},
    /* The server clock (docs/API.md §2): data = the sandbox clock in Unix seconds. */
    {"system.Core.now", "wdt.system.core.now", 0, SBX_E_TRADE, NULL, NULL, NULL, 0, 0,
     {{0, SBX_TIME_MODIFIED}}, 1, 0, NULL, NULL, SBX_PAGE_NONE, NULL, 0, NULL, NULL, 0},
};

const struct sbx_method *sbx_method_table(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}

int sbx_method_entity_has_history(enum sbx_entity e)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].history && methods[i].is_data && methods[i].entity == e)
            return 1;
    return 0;
}

const struct sbx_method *sbx_method_find_direct(const char *name)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].direct, name) == 0)
            return &methods[i];
    return NULL;
}

const char *sbx_method_qimen_bare(const char *name)
{
    /* A scene prefix ("3ldsmu02o9.") comes before "wdt."; strip anything before it. */
    if (strncasecmp(name, "wdt.", 4) == 0)
        return name;
    const char *dot = strchr(name, '.');
    return dot ? dot + 1 : NULL;
}

const struct sbx_method *sbx_method_find_qimen(const char *name)
{
    const char *bare = sbx_method_qimen_bare(name);
    if (bare == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcasecmp(methods[i].qimen, bare) == 0)
            return &methods[i];
    return NULL;
}

int sbx_method_timekind(const struct sbx_method *m, int value, enum sbx_timekind *kind)
{
    for (size_t i = 0; i < m->n_choices; i++) {
        if (m->choices[i].value == value) {
            *kind = m->choices[i].kind;
            return 0;
        }
    }
    return -1;
}

int sbx_method_parse_archive_reports(const char *list, unsigned *mask)
{
    unsigned m = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];
        enum sbx_entity e;
        if (n == 0 || n >= sizeof(name))
            return -1;
        memcpy(name, p, n);
        name[n] = '\0';
        if (sbx_entity_parse(name, &e) != WDTS_OK || !sbx_method_entity_has_history(e))
            return -1;
        m |= 1u << e;
        p += n + (comma != NULL);
    }
    if (m == 0)
        return -1;
    *mask = m;
    return 0;
}
