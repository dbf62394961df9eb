-- The Startmaske and GET /api/v1/cases must cost the same with 100,000 Vorgänge as with 100
-- (issue 6, bench/web.py). Nothing here changes what anybody sees.

-- A page of Vorgänge, not done first, newest first (`Store::cases`): these indexes hold exactly
-- that order (the same expressions as the query's WHERE and ORDER BY), so the page is read in index
-- order and the scan stops after LIMIT + OFFSET rows, instead of sorting every Vorgang of the
-- assignee (or of the office) for each page.
CREATE INDEX cases_list_assignee
    ON cases(assignee, (CASE status WHEN 'done' THEN 1 ELSE 0 END), received_ms DESC, id DESC)
    WHERE status <> 'moved';
CREATE INDEX cases_list_all
    ON cases((CASE status WHEN 'done' THEN 1 ELSE 0 END), received_ms DESC, id DESC)
    WHERE status <> 'moved';

-- „neue Vorgänge seit Ihrem letzten Besuch“ (`Store::new_cases_since`): only the rows claimed
-- since then are read, not every Vorgang of the employee.
CREATE INDEX cases_assignee_claimed ON cases(assignee, claimed_ms);

-- How many Vorgänge each employee has (assignee, not moved), for the pager „Seite 1 von N“:
-- counting them on every page view costs as much as they are many. The store keeps it in the
-- same transaction as the change, in the only places an assignee is set: a Vorgang given at import
-- (`commit_batch`) or when a kept mail is routed again (`reroute_kept`), and a claim. A Vorgang
-- with an assignee is never moved or deleted, and „Erledigt“ / „Wieder öffnen“ do not change it.
CREATE TABLE case_counts (
    employee_id INTEGER PRIMARY KEY REFERENCES employees(id),
    cases       INTEGER NOT NULL
);
INSERT INTO case_counts (employee_id, cases)
    SELECT assignee, COUNT(*) FROM cases WHERE assignee IS NOT NULL AND status <> 'moved' GROUP BY assignee;
