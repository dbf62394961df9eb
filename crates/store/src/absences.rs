//! Abwesenheiten: who is away when, and who stands in (table `absences`, migration 0018).
//!
//! Entering and ending an absence writes its audit entry in the same transaction. Absences are not
//! a Vorgang: they change no Vorgang when saved. What they change is who *receives* one later —
//! `case_write::apply` asks [`active_in`] at import and at the claim, and hands the rows to core's
//! `absence::receiver`, so every path decides the same way.

use postkorb_core::absence::{self, covered_by};
use postkorb_core::{Absence, AbsenceError, AuditEntry, Employee, EmployeeId, Person};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::audit_in;
use crate::{CaseSummary, Result, Store, StoreError};

/// An absence as the lists show it, with the names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredAbsence {
    pub id: i64,
    pub employee_id: i64,
    pub employee_name: String,
    pub from_ms: i64,
    /// `None`: open end.
    pub until_ms: Option<i64>,
    pub substitute_id: Option<i64>,
    pub substitute_name: Option<String>,
}

/// How [`Store::end_absence`] ended it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It had begun: it ends now.
    Now,
    /// It had not begun: it is gone.
    Cancelled,
}

const NOT_OVER: &str = "(a.until_ms IS NULL OR a.until_ms > $1)";

fn absence_from_row(r: &AnyRow) -> Result<Absence> {
    Ok(Absence {
        id: r.try_get("id")?,
        employee: EmployeeId(r.try_get("employee_id")?),
        from_ms: r.try_get("from_ms")?,
        until_ms: r.try_get("until_ms")?,
        substitute: r.try_get::<Option<i64>, _>("substitute_id")?.map(EmployeeId),
    })
}

/// The absences not over at `at` (current and future), read on `conn`.
async fn not_over_on(conn: &mut sqlx::AnyConnection, at: i64) -> Result<Vec<Absence>> {
    let sql = format!(
        "SELECT a.id, a.employee_id, a.from_ms, a.until_ms, a.substitute_id FROM absences a WHERE {NOT_OVER} ORDER BY a.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(at).fetch_all(&mut *conn).await?;
    rows.iter().map(absence_from_row).collect()
}

/// The absences in force at `at`, in the caller's transaction, with the employees when there are
/// any (none: nobody is away, and the rule needs nobody's record).
pub(crate) async fn active_in(conn: &mut sqlx::AnyConnection, at: i64) -> Result<(Vec<Absence>, Vec<Employee>)> {
    let absences: Vec<Absence> = not_over_on(conn, at).await?.into_iter().filter(|a| a.covers(at)).collect();
    if absences.is_empty() {
        return Ok((absences, Vec::new()));
    }
    let rows = sqlx::query("SELECT id, name, username, is_current, license, work_email, permissions FROM employees")
        .fetch_all(&mut *conn)
        .await?;
    let employees = rows.iter().map(crate::employees::employee_from_row).collect::<Result<_>>()?;
    Ok((absences, employees))
}

impl Store {
    /// The absences in force at `now` and the employees (for core's `absence` rules).
    pub async fn absences_at(&self, now_ms: i64) -> Result<(Vec<Absence>, Vec<Employee>)> {
        let mut conn = self.pool.acquire().await?;
        active_in(&mut conn, now_ms).await
    }

    /// The people `vertreter` stands in for at `now` (directly or at the end of a chain).
    pub async fn covering(&self, vertreter: EmployeeId, now_ms: i64) -> Result<Vec<EmployeeId>> {
        let (absences, employees) = self.absences_at(now_ms).await?;
        Ok(covered_by(vertreter, now_ms, &absences, &employees))
    }

    /// Pooled Vorgänge nobody can claim at `now` because their candidates are away without a usable
    /// Vertreter (core's `pool_waits_for_absent`), newest first, each with its candidates: what
    /// admins see under „Wartet auf abwesenden Empfänger“ besides the assigned ones.
    pub async fn pools_waiting_on_absent(&self, now_ms: i64) -> Result<Vec<(CaseSummary, Vec<EmployeeId>)>> {
        let (absences, employees) = self.absences_at(now_ms).await?;
        let mut out: Vec<(CaseSummary, Vec<EmployeeId>)> = Vec::new();
        for absent in absence::waiting_absent(now_ms, &absences, &employees) {
            for case in self.waiting_for(absent).await? {
                if out.iter().any(|(c, _)| c.id == case.id) {
                    continue;
                }
                let rows =
                    sqlx::query("SELECT employee_id FROM case_candidates WHERE case_id = $1 ORDER BY employee_id")
                        .bind(case.id)
                        .fetch_all(&self.pool)
                        .await?;
                let candidates =
                    rows.iter().map(|r| r.try_get(0).map(EmployeeId)).collect::<std::result::Result<Vec<_>, _>>()?;
                if absence::pool_waits_for_absent(&candidates, now_ms, &absences, &employees) {
                    out.push((case, candidates));
                }
            }
        }
        out.sort_by_key(|(c, _)| (std::cmp::Reverse(c.received_ms), std::cmp::Reverse(c.id)));
        Ok(out)
    }

    /// Current and future absences (of one employee, or of everyone), earliest first, with names.
    pub async fn absence_list(&self, employee: Option<EmployeeId>, now_ms: i64) -> Result<Vec<StoredAbsence>> {
        let one = if employee.is_some() { " AND a.employee_id = $2" } else { "" };
        let sql = format!(
            "SELECT a.id, a.employee_id, e.name, a.from_ms, a.until_ms, a.substitute_id, s.name
             FROM absences a JOIN employees e ON e.id = a.employee_id LEFT JOIN employees s ON s.id = a.substitute_id
             WHERE {NOT_OVER}{one} ORDER BY a.from_ms, a.id"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms);
        let q = match employee {
            Some(e) => q.bind(e.0),
            None => q,
        };
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(StoredAbsence {
                    id: r.try_get(0)?,
                    employee_id: r.try_get(1)?,
                    employee_name: r.try_get(2)?,
                    from_ms: r.try_get(3)?,
                    until_ms: r.try_get(4)?,
                    substitute_id: r.try_get(5)?,
                    substitute_name: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// One absence by id (whatever its time), if it exists.
    pub async fn absence(&self, id: i64) -> Result<Option<Absence>> {
        let r = sqlx::query("SELECT id, employee_id, from_ms, until_ms, substitute_id FROM absences WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(absence_from_row).transpose()
    }

    /// Enters an absence after core's `check_absence` (in the transaction, against the absences
    /// stored), with its audit entry. The outer error is the database's; the inner one the rule broken.
    pub async fn add_absence(
        &self,
        new: &Absence,
        actor: &str,
        now_ms: i64,
    ) -> Result<std::result::Result<i64, AbsenceError>> {
        let mut tx = self.begin_write().await?;
        let existing = not_over_on(&mut tx, now_ms).await?;
        let rows =
            sqlx::query("SELECT id, name, username, is_current, license, work_email, permissions FROM employees")
                .fetch_all(&mut *tx)
                .await?;
        let employees: Vec<Employee> = rows.iter().map(crate::employees::employee_from_row).collect::<Result<_>>()?;
        if let Err(e) = absence::check_absence(new, now_ms, &employees, &existing) {
            return Ok(Err(e));
        }
        let row = sqlx::query(
            "INSERT INTO absences (employee_id, from_ms, until_ms, substitute_id, created_ms, created_by)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(new.employee.0)
        .bind(new.from_ms)
        .bind(new.until_ms)
        .bind(new.substitute.map(|s| s.0))
        .bind(now_ms)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        let person = |id: EmployeeId| employees.iter().find(|e| e.id == id).map(Person::of);
        let entry = AuditEntry::AddAbsence {
            absence: id,
            employee: person(new.employee).ok_or_else(|| StoreError::NotFound(format!("employee {}", new.employee)))?,
            from_ms: new.from_ms,
            until_ms: new.until_ms,
            substitute: new.substitute.and_then(person),
        };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// Ends an absence now: one that has begun ends at `now`, one that has not is deleted.
    /// `NotFound` for an unknown absence or one that is over already.
    pub async fn end_absence(&self, id: i64, actor: &str, now_ms: i64) -> Result<Ended> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "SELECT a.id, a.employee_id, a.from_ms, a.until_ms, a.substitute_id, e.name FROM absences a
             JOIN employees e ON e.id = a.employee_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = found else { return Err(StoreError::NotFound(format!("absence {id}"))) };
        let a = absence_from_row(&r)?;
        if !a.not_over(now_ms) {
            return Err(StoreError::NotFound(format!("absence {id} (over already)")));
        }
        let ended = if a.from_ms > now_ms {
            sqlx::query("DELETE FROM absences WHERE id = $1").bind(id).execute(&mut *tx).await?;
            Ended::Cancelled
        } else {
            sqlx::query("UPDATE absences SET until_ms = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ended::Now
        };
        let entry = AuditEntry::EndAbsence {
            absence: id,
            employee: Person { id: a.employee.0, name: r.try_get(5)? },
            ended_ms: now_ms,
            cancelled: ended == Ended::Cancelled,
        };
        audit_in(&mut tx, now_ms, actor, &entry).await?;
        tx.commit().await?;
        Ok(ended)
    }
}
