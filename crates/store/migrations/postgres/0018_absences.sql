-- Issue 16, Abwesenheit und Vertretung.
--
-- absences: an employee is away from from_ms (inclusive) until until_ms (exclusive; NULL: open end),
-- optionally with a Vertreter (substitute_id) who receives and may claim in their place. Ending one
-- early sets until_ms; cancelling one that has not begun deletes it. Absences of one employee do not
-- overlap (checked by core's check_absence before saving).
CREATE TABLE absences (
    id            BIGSERIAL PRIMARY KEY,
    employee_id   BIGINT NOT NULL REFERENCES employees(id),
    from_ms       BIGINT NOT NULL,
    until_ms      BIGINT,
    substitute_id BIGINT REFERENCES employees(id),
    created_ms    BIGINT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX absences_employee ON absences (employee_id, from_ms);
CREATE INDEX absences_substitute ON absences (substitute_id);

-- A Vorgang given to a Vertreter names the absent person it was meant for („in Vertretung für“).
ALTER TABLE cases ADD COLUMN on_behalf_of BIGINT REFERENCES employees(id);
