"""inventory_reserve_order(): an order's FEFO reservation as one PostgreSQL function.

The same rules as the Python planner in apps/inventory/services.py (_reserve_in_python), which
SQLite and the batch import still use; tests/inventory/test_reserve_function_pg.py runs both on
the same random stock and requires the same reservations, shortfalls, holds and warehouse.
Why a function: a reservation from Python cost six statements and ~6.6 ms of CPU (client and
server); one call costs ~2.7 ms, and the levels stay locked for one statement instead of several
round trips (bench/reserve.py).

Lock order as everywhere (apps/orders/lock_objects.py): the order, then the warehouse's free levels
of the order's SKUs in one statement in pk order. Nothing is raised: the first OUT column says what
happened and services.py turns it into its coded error, holds and events.

This is the function's current text. A migration installs it (`install`); a change to it comes with
a new migration that calls `install` again, so existing databases get it too.
"""

RESERVE_ORDER_FUNCTION = r"""
CREATE OR REPLACE FUNCTION inventory_reserve_order(
    p_order_id bigint, p_reservable text[], p_today date, p_now timestamptz, p_actor_id bigint,
    p_actor_label text, p_write_when_short boolean, p_choose_warehouse boolean,
    OUT r_outcome text, OUT r_status text, OUT r_previous_warehouse_id bigint, OUT r_warehouse_id bigint,
    OUT r_reserved integer, OUT r_shortfalls jsonb)
LANGUAGE plpgsql
-- Every statement looks rows up by key: a generic plan is the plan, without planning each call.
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    o record;
    line_ids bigint[]; line_nos integer[]; line_skus bigint[]; line_wanted integer[]; line_codes text[];
    line_cutoffs date[]; any_wanted boolean; any_held boolean;
    chosen bigint;
    level_ids bigint[]; level_skus bigint[]; level_free integer[]; level_batches bigint[];
    level_expiry date[]; level_quarantined boolean[]; taken integer[];
    plan_lines bigint[] := '{}'; plan_levels bigint[] := '{}'; plan_quantities integer[] := '{}';
    need integer; blocked integer; free integer; qty integer;
BEGIN
    r_reserved := 0;
    r_shortfalls := '[]'::jsonb;
    -- One statement for everything the order row leads to: each statement costs an executor start.
    SELECT ord.id, ord.status, ord.warehouse_id, ord.payment_due_at, ord.external_id,
           c.min_remaining_shelf_life_days AS customer_days, sh.default_warehouse_id,
           ARRAY(SELECT sw.warehouse_id FROM orders_shopwarehouse sw WHERE sw.shop_id = ord.shop_id
                 ORDER BY sw.priority, sw.id) AS candidates
    INTO o
    FROM orders_order ord JOIN customers_customer c ON c.id = ord.customer_id
         JOIN orders_shop sh ON sh.id = ord.shop_id
    WHERE ord.id = p_order_id
    FOR UPDATE OF ord;
    IF NOT FOUND THEN
        r_outcome := 'not_found';
        RETURN;
    END IF;
    r_status := o.status;
    r_previous_warehouse_id := o.warehouse_id;
    r_warehouse_id := o.warehouse_id;
    IF NOT (o.status = ANY (p_reservable)) THEN
        r_outcome := 'not_reservable';
        RETURN;
    END IF;

    -- What each line still lacks, and the earliest expiry it may take: never an expired batch, and
    -- at least the longer of the SKU's and the customer's minimum remaining shelf life.
    SELECT array_agg(x.id ORDER BY x.line_no), array_agg(x.line_no ORDER BY x.line_no),
           array_agg(x.sku_id ORDER BY x.line_no), array_agg(x.quantity - x.held ORDER BY x.line_no),
           array_agg(x.code ORDER BY x.line_no), array_agg(x.cutoff ORDER BY x.line_no),
           bool_or(x.quantity > x.held), bool_or(x.held > 0)
    INTO line_ids, line_nos, line_skus, line_wanted, line_codes, line_cutoffs, any_wanted, any_held
    FROM (SELECT l.id, l.line_no, l.sku_id, l.quantity, k.code,
                 p_today + greatest(k.min_remaining_shelf_life_days, COALESCE(o.customer_days, 0), 1) AS cutoff,
                 COALESCE(h.held, 0) AS held
          FROM orders_orderline l JOIN catalog_sku k ON k.id = l.sku_id
          -- a join, not a subquery in the select list: that one ran once for each use of held
          LEFT JOIN LATERAL (SELECT sum(r.quantity) AS held FROM inventory_reservation r
                             WHERE r.order_line_id = l.id AND r.state = 'active') h ON true
          WHERE l.order_id = o.id) x;
    IF NOT COALESCE(any_wanted, false) THEN
        r_outcome := 'nothing_to_do';
        RETURN;
    END IF;

    -- The warehouse: the first of the shop's ordered list that can serve every line (an unlocked
    -- read), else the shop's default.
    IF p_choose_warehouse AND (o.warehouse_id IS NULL OR NOT any_held) THEN
        IF cardinality(o.candidates) > 1 THEN
            SELECT c.warehouse INTO chosen
            FROM unnest(o.candidates) WITH ORDINALITY AS c(warehouse, position)
            WHERE NOT EXISTS (
                SELECT 1
                FROM (SELECT n.sku, sum(n.qty) AS qty, min(n.cutoff) AS cutoff
                      FROM unnest(line_skus, line_wanted, line_cutoffs) AS n(sku, qty, cutoff) GROUP BY n.sku) sku_need
                WHERE sku_need.qty > COALESCE((
                    SELECT sum(s.on_hand - s.reserved)
                    FROM inventory_stocklevel s LEFT JOIN inventory_batch b ON b.id = s.batch_id
                    WHERE s.warehouse_id = c.warehouse AND s.sku_id = sku_need.sku AND s.bucket = 'sellable'
                      AND s.on_hand > s.reserved
                      AND (s.batch_id IS NULL OR (b.quarantined_at IS NULL
                                                  AND (b.expires_on IS NULL OR b.expires_on >= sku_need.cutoff)))), 0))
            ORDER BY c.position
            LIMIT 1;
        END IF;
        chosen := COALESCE(chosen, o.default_warehouse_id, o.candidates[1]);
        IF chosen IS DISTINCT FROM o.warehouse_id THEN
            UPDATE orders_order SET warehouse_id = chosen, updated_at = p_now WHERE id = o.id;
            r_warehouse_id := chosen;
        END IF;
    END IF;

    -- The free sellable levels of these SKUs, locked in pk order, then taken earliest expiry first.
    IF r_warehouse_id IS NOT NULL THEN
        SELECT array_agg(f.id ORDER BY f.fefo, f.id), array_agg(f.sku_id ORDER BY f.fefo, f.id),
               array_agg(f.free ORDER BY f.fefo, f.id), array_agg(f.batch_id ORDER BY f.fefo, f.id),
               array_agg(f.expires_on ORDER BY f.fefo, f.id), array_agg(f.quarantined ORDER BY f.fefo, f.id)
        INTO level_ids, level_skus, level_free, level_batches, level_expiry, level_quarantined
        FROM (SELECT s.id, s.sku_id, s.on_hand - s.reserved AS free, s.batch_id, b.expires_on,
                     b.quarantined_at IS NOT NULL AS quarantined,
                     CASE WHEN s.batch_id IS NOT NULL THEN COALESCE(b.expires_on, 'infinity'::date)
                          ELSE 'infinity'::date END AS fefo
              FROM inventory_stocklevel s LEFT JOIN inventory_batch b ON b.id = s.batch_id
              WHERE s.warehouse_id = r_warehouse_id AND s.sku_id = ANY (line_skus) AND s.bucket = 'sellable'
                AND s.on_hand > s.reserved
              ORDER BY s.id
              FOR UPDATE OF s) f;
    END IF;
    taken := array_fill(0, ARRAY[COALESCE(cardinality(level_ids), 0)]);

    FOR i IN 1 .. cardinality(line_ids) LOOP
        need := line_wanted[i];
        CONTINUE WHEN need <= 0;
        blocked := 0;
        FOR j IN 1 .. COALESCE(cardinality(level_ids), 0) LOOP
            CONTINUE WHEN level_skus[j] <> line_skus[i];
            free := level_free[j] - taken[j];
            CONTINUE WHEN free <= 0;
            IF level_batches[j] IS NOT NULL
               AND (level_quarantined[j] OR (level_expiry[j] IS NOT NULL AND level_expiry[j] < line_cutoffs[i])) THEN
                blocked := blocked + free;
                CONTINUE;
            END IF;
            EXIT WHEN need <= 0;
            qty := least(free, need);
            taken[j] := taken[j] + qty;
            plan_lines := plan_lines || line_ids[i];
            plan_levels := plan_levels || level_ids[j];
            plan_quantities := plan_quantities || qty;
            need := need - qty;
            r_reserved := r_reserved + qty;
        END LOOP;
        IF need > 0 THEN
            r_shortfalls := r_shortfalls || jsonb_build_object(
                'line_no', line_nos[i], 'sku', line_codes[i], 'requested', line_wanted[i],
                'reserved', line_wanted[i] - need, 'blocked_by_expiry', blocked);
        END IF;
    END LOOP;

    IF jsonb_array_length(r_shortfalls) > 0 AND NOT p_write_when_short THEN
        r_reserved := 0;
        r_outcome := 'refused';
        RETURN;
    END IF;
    IF cardinality(plan_lines) > 0 THEN
        WITH levels AS (
            UPDATE inventory_stocklevel s SET reserved = s.reserved + t.qty, updated_at = p_now
            FROM unnest(level_ids, taken) AS t(id, qty)
            WHERE s.id = t.id AND t.qty > 0
            RETURNING s.id, s.sku_id
        ), reservations AS (
            INSERT INTO inventory_reservation (order_line_id, stock_level_id, quantity, expires_at, state, created_at)
            SELECT p.line_id, p.level_id, p.qty,
                   CASE WHEN o.status = 'pending_payment' THEN o.payment_due_at END, 'active', p_now
            FROM unnest(plan_lines, plan_levels, plan_quantities) WITH ORDINALITY AS p(line_id, level_id, qty, position)
            ORDER BY p.position
            RETURNING id, stock_level_id, quantity
        )
        INSERT INTO inventory_stockmove (stock_level_id, sku_id, type, on_hand_delta, reserved_delta, order_id,
                                         reservation_id, reference, note, actor_id, actor_label, is_intervention,
                                         created_at)
        SELECT r.stock_level_id, l.sku_id, 'reserve', 0, r.quantity, o.id, r.id, 'order:' || o.external_id, '',
               p_actor_id, p_actor_label, false, p_now
        FROM reservations r JOIN levels l ON l.id = r.stock_level_id;
    END IF;
    r_outcome := 'reserved';
END
$fn$;
"""

SIGNATURE = "inventory_reserve_order(bigint, text[], date, timestamptz, bigint, text, boolean, boolean)"
DROP_RESERVE_ORDER_FUNCTION = f"DROP FUNCTION IF EXISTS {SIGNATURE}"


def install(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RESERVE_ORDER_FUNCTION)


def uninstall(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_RESERVE_ORDER_FUNCTION)
