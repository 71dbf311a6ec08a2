-- The reconstructor's state (see bolt.go for the same layout in bbolt).
-- One row per account with its totals, one row per distinct voucher id, one
-- row per stored match record. Ids and shares are raw bytes.
CREATE TABLE accounts (
	account_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text   NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
	vouchers    bigint NOT NULL DEFAULT 0,
	matches     bigint NOT NULL DEFAULT 0,
	non_matches bigint NOT NULL DEFAULT 0,
	invalid     bigint NOT NULL DEFAULT 0,
	conflicts   bigint NOT NULL DEFAULT 0,
	reveal      bytea
);

-- The unique key is the idempotency of uploads: a voucher id counts once.
CREATE TABLE vouchers (
	account_id bigint   NOT NULL REFERENCES accounts,
	id         bytea    NOT NULL CHECK (length(id) = 16),
	kind       smallint NOT NULL CHECK (kind IN (1, 2, 3)),
	PRIMARY KEY (account_id, id)
);

CREATE TABLE match_records (
	account_id bigint NOT NULL REFERENCES accounts,
	id         bytea  NOT NULL CHECK (length(id) = 16),
	share      bytea  NOT NULL CHECK (length(share) = 8),
	record     bytea  NOT NULL,
	PRIMARY KEY (account_id, id, share)
);
