-- Example analysis queries on the tables of wdt-sink-sqlite (docs/CONSUMERS.md).
-- Run them with: sqlite3 -header -column sink.db < sink/queries.sql
-- Each table keeps the latest version of every record per connection. A seller
-- authorised twice (a wdt and a qimen connection) can show the same order under both
-- connections, so the queries first keep one row per (tenant, order number): the one
-- with the latest `modified`. Money fields are decimal strings in the API ("19.90").
-- Day = the Beijing calendar day of pay_time ("yyyy-MM-dd HH:mm:ss"; unpaid orders
-- carry "0000-00-00 00:00:00" and are left out). A refund names its orders in
-- trade_no_list; the amount asked is guarantee_refund_amount (through the platform) plus
-- direct_refund_amount (offline), the fields of the official refunds table.

-- name: paid_per_day_and_shop
WITH paid AS (
    SELECT tenant, json_extract(data, '$.trade_no') AS trade_no,
           json_extract(data, '$.shop_name') AS shop,
           substr(json_extract(data, '$.pay_time'), 1, 10) AS day,
           CAST(json_extract(data, '$.paid') AS REAL) AS paid, max(modified) AS modified
    FROM trades
    WHERE json_extract(data, '$.pay_time') >= '2000'
    GROUP BY tenant, trade_no)
SELECT day, shop, count(*) AS orders, printf('%.2f', sum(paid)) AS paid
FROM paid
GROUP BY day, shop
ORDER BY day, shop;

-- name: top_goods
WITH paid AS (
    SELECT tenant, json_extract(data, '$.trade_no') AS trade_no, data, max(modified) AS modified
    FROM trades
    WHERE json_extract(data, '$.pay_time') >= '2000'
    GROUP BY tenant, trade_no)
SELECT json_extract(d.value, '$.goods_no') AS goods_no,
       json_extract(d.value, '$.goods_name') AS goods_name,
       CAST(sum(CAST(json_extract(d.value, '$.num') AS REAL)) AS INTEGER) AS quantity,
       printf('%.2f', sum(CAST(json_extract(d.value, '$.share_amount') AS REAL))) AS amount
FROM paid, json_each(paid.data, '$.detail_list') AS d
GROUP BY goods_no
ORDER BY quantity DESC, goods_no
LIMIT 10;

-- name: refund_rate_per_shop
WITH paid AS (
    SELECT tenant, json_extract(data, '$.trade_no') AS trade_no,
           json_extract(data, '$.shop_name') AS shop,
           CAST(json_extract(data, '$.paid') AS REAL) AS paid, max(modified) AS modified
    FROM trades
    WHERE json_extract(data, '$.pay_time') >= '2000'
    GROUP BY tenant, trade_no),
refund AS (
    SELECT tenant, json_extract(data, '$.refund_no') AS refund_no,
           json_extract(data, '$.trade_no_list') AS trade_nos,
           coalesce(CAST(json_extract(data, '$.guarantee_refund_amount') AS REAL), 0) +
           coalesce(CAST(json_extract(data, '$.direct_refund_amount') AS REAL), 0) AS amount,
           max(modified) AS modified
    FROM refunds
    GROUP BY tenant, refund_no),
-- trade_no_list lists the refund's orders, comma-separated (usually one)
refund_by_trade AS (
    SELECT p.tenant, p.trade_no, sum(r.amount) AS amount
    FROM paid AS p
    JOIN refund AS r ON r.tenant = p.tenant
     AND instr(',' || r.trade_nos || ',', ',' || p.trade_no || ',') > 0
    GROUP BY p.tenant, p.trade_no)
SELECT p.shop, count(*) AS paid_orders, count(r.trade_no) AS refunded_orders,
       printf('%.1f%%', 100.0 * count(r.trade_no) / count(*)) AS refund_rate,
       printf('%.2f', coalesce(sum(r.amount), 0)) AS refund_amount,
       printf('%.1f%%', 100.0 * coalesce(sum(r.amount), 0) / sum(p.paid)) AS refund_share
FROM paid AS p
LEFT JOIN refund_by_trade AS r ON r.tenant = p.tenant AND r.trade_no = p.trade_no
GROUP BY p.shop
ORDER BY p.shop;

-- name: windows_per_report
SELECT connection, report, count(*) AS windows, sum(records) AS records,
       sum(json_extract(marker, '$.duplicates')) AS paging_duplicates,
       min(window_start) AS first_window, max(window_end) AS last_window
FROM windows
GROUP BY connection, report
ORDER BY connection, report;

-- name: sink_counters
SELECT report, records, inserted, updated, duplicates, stale, markers, rejected
FROM sink_stats
ORDER BY report;
