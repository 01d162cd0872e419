-- USDX/Wexel indexer schema (applied once, as role usdx, when the cluster is created).
CREATE TABLE blocks (
    number      bigint      PRIMARY KEY,
    hash        text        NOT NULL UNIQUE,
    parent_hash text        NOT NULL,
    timestamp   timestamptz NOT NULL,
    tx_count    integer     NOT NULL DEFAULT 0,
    indexed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id               bigserial   PRIMARY KEY,
    block_number     bigint      NOT NULL REFERENCES blocks (number),
    block_hash       text        NOT NULL,
    tx_hash          text        NOT NULL,
    log_index        integer     NOT NULL,
    contract_address text        NOT NULL,
    event_name       text        NOT NULL,
    topics           text[]      NOT NULL,
    data             text        NOT NULL,
    from_address     text,
    to_address       text,
    amount           numeric(78, 0),
    indexed_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_block_log_uniq UNIQUE (block_number, log_index),
    CONSTRAINT events_tx_log_uniq UNIQUE (tx_hash, log_index)
);

CREATE INDEX events_contract_block_idx ON events (contract_address, block_number);
CREATE INDEX events_from_idx ON events (from_address);
