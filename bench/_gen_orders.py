"""Fill a bench database with a large, realistic order book in SQL (INSERT … SELECT over
generate_series): orders spread over 3 shops, every status, two years of dates (or any spacing), one
line, a created and a status event each, a hold on one order in a hundred and a complaint on one in
fifty.

PostgreSQL only. The reference rows (shops, warehouse, SKUs, customers, users) go through the ORM
first, so every constraint the models declare holds for the generated rows too.
"""
import time

STATUSES = ["pending_payment", "pending_review", "pending_approval", "ready", "picking", "picked", "packed",
            "shipped", "in_transit", "out_for_delivery", "delivered", "completed", "intercepting", "intercepted",
            "refused", "cancelled", "expired"]
# Most of a real book is finished; the open ones are what agents work.
WEIGHTS = [2, 1, 1, 3, 1, 1, 1, 3, 4, 1, 3, 60, 0, 1, 1, 10, 7]


def reference_data(*, customers: int = 20_000, skus: int = 200):
    """Shops, a warehouse, SKUs, customers and an agent serving every shop; returns their ids."""
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from apps.accounts.models import User
    from apps.catalog.models import SKU
    from apps.customers.models import Customer
    from apps.inventory.models import Warehouse
    from apps.orders.models import Shop

    warehouse = Warehouse.objects.create(code="HZ1", name="杭州一号仓")
    shops = [Shop.objects.create(code=code, name=name, platform=platform, default_warehouse=warehouse)
             for code, name, platform in (("dy-bench", "抖音旗舰店", "douyin"), ("yz-bench", "有赞商城", "youzan"),
                                          ("b2b-bench", "批发渠道", "b2b"))]
    SKU.objects.bulk_create(SKU(code=f"SKU{n:05d}", barcode=f"69{n:011d}", name_zh=f"商品{n}", name_en=f"Item {n}",
                                unit="件") for n in range(skus))
    Customer.objects.bulk_create(
        (Customer(code=f"C{n:07d}", name=f"买家{n}", kind="b2c" if n % 20 else "b2b",
                  credit_limit=0 if n % 20 else 50_000, payment_terms_days=0 if n % 20 else 30)
         for n in range(customers)), batch_size=5000)
    agent = User.objects.create_user(username="bench-agent", password=None)
    agent.groups.add(Group.objects.get(name="cs_agent"))
    for shop in shops:
        assign_perm("orders.serve_shop", agent, shop)
    return {"shop_ids": [s.pk for s in shops], "warehouse_id": warehouse.pk, "agent_id": agent.pk}


ORDERS_SQL = """
INSERT INTO orders_order (created_at, updated_at, shop_id, external_id, platform, customer_id, buyer_nickname,
    warehouse_id, status, status_changed_at, status_before_intercept, payment_status, receiver_name, receiver_phone,
    phone_tail, province, city, district, address_detail, postal_code, currency, goods_total, shipping_fee,
    discount_total, grand_total, paid_amount, buyer_remark, seller_remark, placed_at, paid_at, promised_ship_by,
    intake_digest, region_code)
SELECT t.placed, t.placed, (%(shops)s::bigint[])[1 + g %% 3],
       CASE g %% 3 WHEN 0 THEN 'dy_' WHEN 1 THEN 'yz_' ELSE 'B' END || lpad(g::text, 12, '0'),
       CASE g %% 3 WHEN 0 THEN 'douyin' WHEN 1 THEN 'youzan' ELSE 'b2b' END,
       c.first_id + (g * 7919) %% c.n, '买家' || (g %% 20000), %(warehouse)s, s.status, t.placed, '',
       CASE WHEN s.status IN ('pending_payment', 'expired') THEN 'unpaid' ELSE 'paid' END,
       '收件人' || (g %% 997), '1' || (30 + g %% 70) || lpad(((g * 7717) %% 100000000)::text, 8, '0'),
       right(lpad(((g * 7717) %% 100000000)::text, 8, '0'), 4),
       '浙江省', '杭州市', '西湖区', '文三路 ' || (g %% 300) || ' 号', '310000', 'CNY',
       59.70, 5.00, 0.00, 64.70,
       CASE WHEN s.status IN ('pending_payment', 'expired') THEN 0 ELSE 64.70 END,
       CASE WHEN g %% 9 = 0 THEN '请尽快发货，谢谢' ELSE '' END, '', t.placed,
       CASE WHEN s.status IN ('pending_payment', 'expired') THEN NULL ELSE t.placed + interval '2 minutes' END,
       t.placed + interval '48 hours', '', '330106'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
CROSS JOIN LATERAL (SELECT now() - (g * %(spacing)s * interval '1 second') AS placed) AS t
CROSS JOIN LATERAL (SELECT (%(statuses)s::text[])[1 + (SELECT count(*) FROM unnest(%(bounds)s::int[]) b
                                                         WHERE b <= (g * 40503) %% 100)] AS status) AS s
CROSS JOIN (SELECT min(id) AS first_id, count(*) AS n FROM customers_customer) AS c
"""

LINES_SQL = """
INSERT INTO orders_orderline (order_id, line_no, sku_id, name, quantity, unit_price, discount, line_total)
SELECT o.id, 1, k.first_id + o.id %% k.n, '商品', 3, 19.90, 0, 59.70
FROM orders_order o CROSS JOIN (SELECT min(id) AS first_id, count(*) AS n FROM catalog_sku) AS k
WHERE o.id BETWEEN %(low)s AND %(high)s
"""

EVENTS_SQL = """
INSERT INTO orders_orderevent (order_id, type, name, from_status, to_status, actor_id, actor_label, payload,
                               is_intervention, created_at)
SELECT o.id, 'created', '', '', 'pending_payment', NULL::bigint, 'token:bench', '{"channel": "api"}'::jsonb, false, o.placed_at
FROM orders_order o WHERE o.id BETWEEN %(low)s AND %(high)s
UNION ALL
SELECT o.id, 'transition', 'pay', 'pending_payment', o.status, NULL, 'token:bench', '{}'::jsonb, false,
       o.placed_at + interval '2 minutes'
FROM orders_order o WHERE o.id BETWEEN %(low)s AND %(high)s AND o.status <> 'pending_payment'
UNION ALL
SELECT o.id, 'note', 'complaint', '', '', %(agent)s::bigint, 'bench-agent', '{"text": "怎么还没发货？"}'::jsonb, false,
       o.placed_at + interval '30 hours'
FROM orders_order o WHERE o.id BETWEEN %(low)s AND %(high)s AND o.id %% 50 = 0
"""

HOLDS_SQL = """
INSERT INTO orders_orderhold (order_id, type, reason, owner_role, opened_at, released_at, resolution, details,
                              is_automatic, opened_by_id, released_by_id)
SELECT o.id, 'out_of_stock', '缺货', 'cs_lead', o.placed_at + interval '1 minute', NULL, '', '{}'::jsonb, true,
       NULL, NULL
FROM orders_order o WHERE o.id BETWEEN %(low)s AND %(high)s AND o.id %% 100 = 7
"""


def _bounds() -> list[int]:
    total, bounds = 0, []
    for weight in WEIGHTS[:-1]:
        total += weight
        bounds.append(total)
    return bounds


def generate(conn, *, orders: int, agent_id: int, shop_ids, warehouse_id, chunk: int = 100_000, say=print,
             spacing_seconds: float = 63):
    """Insert `orders` orders with their lines, events and holds, chunk by chunk, one commit each.
    Order n is placed n × `spacing_seconds` before now (63 s: 1,000,000 orders over two years)."""
    started = time.monotonic()
    bounds = _bounds()
    for first in range(1, orders + 1, chunk):
        last = min(first + chunk - 1, orders)
        with conn.transaction():
            low = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM orders_order").fetchone()[0]
            conn.execute(ORDERS_SQL, {"shops": list(shop_ids), "warehouse": warehouse_id, "statuses": STATUSES,
                                      "bounds": bounds, "first": first, "last": last,
                                      "spacing": spacing_seconds})
            high = conn.execute("SELECT max(id) FROM orders_order").fetchone()[0]
            for sql in (LINES_SQL, EVENTS_SQL, HOLDS_SQL):
                conn.execute(sql, {"low": low, "high": high, "agent": agent_id})
        say(f"  {last:>9,} orders  {time.monotonic() - started:6.1f} s")
    # As autovacuum leaves a live table: hint bits set, visibility map and statistics current.
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False
    return time.monotonic() - started
