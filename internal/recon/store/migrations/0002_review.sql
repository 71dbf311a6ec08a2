-- The review console's append-only audit log (see review.go; review_bolt.go
-- keeps the same log in bbolt). seq numbers the whole log; prev_seq is the
-- account's newest entry when this one was appended (0 for its first), and
-- its uniqueness per account is what makes the compare-and-append of
-- AppendAudit safe with any number of instances on one database: of two
-- appends after the same entry, the second insert fails.
CREATE TABLE review_audit (
	seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account  text        NOT NULL CHECK (octet_length(account) BETWEEN 1 AND 255),
	prev_seq bigint      NOT NULL CHECK (prev_seq >= 0 AND prev_seq < seq),
	at       timestamptz NOT NULL,
	reviewer text        NOT NULL CHECK (octet_length(reviewer) BETWEEN 1 AND 128),
	match    text        NOT NULL CHECK (octet_length(match) <= 64),
	decision text        NOT NULL CHECK (decision IN ('confirm', 'reject', 'report', 'dismiss')),
	reason   text        NOT NULL CHECK (octet_length(reason) <= 2000),
	CHECK ((decision IN ('confirm', 'reject')) = (match <> '')),
	UNIQUE (account, prev_seq)
);

-- An account's entries, and its newest one, without a scan of the log.
CREATE INDEX review_audit_account ON review_audit (account, seq);

-- Decisions are never changed or taken back, only followed by others: the
-- table refuses UPDATE, DELETE and TRUNCATE. (Its owner can still drop the
-- trigger; this guards against mistakes, not against the database's owner.)
CREATE FUNCTION review_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'review_audit is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER review_audit_no_change BEFORE UPDATE OR DELETE ON review_audit
	FOR EACH ROW EXECUTE FUNCTION review_audit_append_only();
CREATE TRIGGER review_audit_no_truncate BEFORE TRUNCATE ON review_audit
	FOR EACH STATEMENT EXECUTE FUNCTION review_audit_append_only();
