-- „Suche“, faster (issue 16, performance): the index also knows who may see a Vorgang.
-- `seen` holds a term `u{id}` for the Bearbeiter, or for each candidate while the Vorgang waits in
-- a pool (the same text as on SQLite); `case_write::apply` keeps it current
-- (`search::refresh_seen`). A clerk's search asks for „matches and is seen by me (or whom I stand
-- in for)“, which PostgreSQL answers by combining the two GIN indexes (or by walking the newest
-- entries when the words are frequent), instead of reading every match of everyone else; the
-- statement still checks the real rule (`auth::may_open`'s), so a stale entry could only cost
-- time, never show a Vorgang.
ALTER TABLE case_search ADD COLUMN seen TEXT NOT NULL DEFAULT '';
UPDATE case_search s SET seen = CASE
        WHEN c.status = 'waiting' THEN COALESCE(
            (SELECT string_agg('u' || cc.employee_id, ' ' ORDER BY cc.employee_id) FROM case_candidates cc WHERE cc.case_id = c.id), '')
        ELSE COALESCE('u' || c.assignee, '') END
FROM cases c WHERE c.id = s.case_id;
CREATE INDEX case_search_seen ON case_search USING GIN (string_to_array(seen, ' '));
