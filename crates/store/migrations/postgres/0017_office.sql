-- Issue 15, the office: typed audit entries and one work e-mail per employee.
--
-- audit_log.params: the typed entry as JSON (core's AuditEntry); rows before this have '' and keep
-- their free detail.
ALTER TABLE audit_log ADD COLUMN params TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_action ON audit_log (action, id);

-- A work e-mail may belong to one employee only (compared without case), or routing is ambiguous.
-- A database that has duplicates already keeps the address at the lowest id; the others lose it
-- (their rows as Von become inactive, with why) and the Protokoll names each.
UPDATE employees SET work_email = NULL WHERE trim(work_email) = '';
INSERT INTO audit_log (at_ms, actor, action, detail, params)
SELECT (extract(epoch FROM now()) * 1000)::BIGINT, 'postkorb', 'clear_duplicate_email', '',
       json_build_object('action', 'clear_duplicate_email',
                         'employee', json_build_object('id', e.id, 'name', e.name),
                         'email', e.work_email,
                         'kept_by', json_build_object('id', k.id, 'name', k.name))::TEXT
FROM employees e
JOIN employees k ON k.id = (SELECT MIN(f.id) FROM employees f WHERE lower(f.work_email) = lower(e.work_email))
WHERE e.work_email IS NOT NULL AND k.id <> e.id
ORDER BY e.id;
UPDATE employees SET work_email = NULL
WHERE work_email IS NOT NULL
  AND id <> (SELECT MIN(f.id) FROM employees f WHERE lower(f.work_email) = lower(employees.work_email));
CREATE UNIQUE INDEX employees_work_email_lower ON employees (lower(work_email));
