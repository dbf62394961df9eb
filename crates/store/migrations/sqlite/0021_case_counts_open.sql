-- The Startmaske's „Offen (N)“ at 1,000,000 Vorgänge (issue 16, bench/search.py): counting a
-- clerk's open Vorgänge on every view costs as much as they are many (14,274 open for one clerk:
-- 4 ms on SQLite per view). `case_counts` keeps it next to the number of all of them, in the
-- transaction of the change (`case_write::apply`: given, claimed, handed over +1; handed over
-- from, given back, „Erledigt“ -1; „Wieder öffnen“ +1).
ALTER TABLE case_counts ADD COLUMN open_cases INTEGER NOT NULL DEFAULT 0;
UPDATE case_counts SET open_cases = (
    SELECT COUNT(*) FROM cases c WHERE c.assignee = case_counts.employee_id AND c.status = 'open'
);
