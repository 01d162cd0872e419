"""Marketplace and deposit queries of the API (/api/marketplace/listings, /api/deposits/<tx>, /api/wallet/<address>).

A Wexel position is a vault Deposit; every third one is listed for sale at its deposit plus a premium of 0-4.9 %.
Schema version 2 (release v1.5.0) moves the ask prices into a table of their own, `listings`, created by a migration
(0002_listings) that the sandbox database never ran: that release's listings query fails with
`relation "listings" does not exist`, as a release deployed ahead of its migration does.
"""
from usdx_indexer.release import RELEASE

LISTINGS_SQL = {
    1: ("SELECT e.id, e.from_address, e.amount::text, (e.amount * (1000 + e.id %% 50) / 1000)::numeric(78, 0)::text, "
        "e.block_number, e.tx_hash FROM events e WHERE e.event_name = 'Deposit' AND e.id %% 3 = 0 "
        "ORDER BY e.block_number DESC, e.log_index DESC LIMIT %s"),
    2: ("SELECT e.id, e.from_address, e.amount::text, l.ask_price_usdx::text, e.block_number, e.tx_hash "
        "FROM listings l JOIN events e ON e.id = l.event_id WHERE l.active "
        "ORDER BY e.block_number DESC, e.log_index DESC LIMIT %s"),
}
LISTING_KEYS = ("position_id", "seller", "deposit_amount", "ask_price", "block_number", "tx_hash")


def listings(query, limit):
    """The newest `limit` listings; database errors propagate (the caller tells an outage from a bug)."""
    rows = query(LISTINGS_SQL[RELEASE["schema"]], (limit,))
    out = []
    for row in rows:
        item = dict(zip(LISTING_KEYS, row))
        item["position_id"] = "wexel-%d" % item["position_id"]
        out.append(item)
    return out


def deposit(query, tx_hash):
    """The vault Deposit of one transaction, or None while it is not indexed."""
    rows = query("SELECT e.tx_hash, e.block_number, e.log_index, e.from_address, e.amount::text, e.indexed_at "
                 "FROM events e WHERE e.tx_hash = %s AND e.event_name = 'Deposit' ORDER BY e.log_index LIMIT 1",
                 (tx_hash,))
    if not rows:
        return None
    tx, block, log_index, sender, amount, indexed_at = rows[0]
    return {"tx_hash": tx, "block_number": block, "log_index": log_index, "from": sender, "amount": amount,
            "indexed_at": indexed_at.isoformat() if indexed_at is not None else None}


def wallet_deposits(query, address):
    """Count and sum of the vault Deposits made from `address`."""
    rows = query("SELECT count(*), coalesce(sum(amount), 0)::text FROM events "
                 "WHERE event_name = 'Deposit' AND from_address = %s", (address,))
    count, total = rows[0]
    return {"count": count, "total": total}
