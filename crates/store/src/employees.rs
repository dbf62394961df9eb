//! Employees (Mitarbeiter): the people who send, receive and administer.

use postkorb_core::{EmailAddress, Employee, EmployeeError, EmployeeId, Permission};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// What is needed to create an employee.
#[derive(Clone, Debug, Default)]
pub struct NewEmployee {
    pub name: String,
    pub username: Option<String>,
    pub is_current: bool,
    pub license: Option<String>,
    pub work_email: Option<EmailAddress>,
    pub permissions: Vec<Permission>,
}

const COLUMNS: &str = "id, name, username, is_current, license, work_email, permissions";

fn permissions_to_text(p: &[Permission]) -> String {
    let mut codes: Vec<&str> = p.iter().map(|p| p.code()).collect();
    codes.sort();
    codes.dedup();
    codes.join(",")
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(crate) fn employee_from_row(row: &AnyRow) -> Result<Employee> {
    let email: Option<String> = row.try_get("work_email")?;
    let perms: String = row.try_get("permissions")?;
    Ok(Employee {
        id: EmployeeId(row.try_get("id")?),
        name: row.try_get("name")?,
        username: row.try_get("username")?,
        is_current: row.try_get::<i64, _>("is_current")? != 0,
        license: row.try_get("license")?,
        work_email: email.and_then(|e| EmailAddress::parse(&e).ok()),
        permissions: perms.split(',').filter_map(Permission::from_code).collect(),
    })
}

impl Store {
    pub async fn add_employee(&self, new: &NewEmployee, now_ms: i64) -> Result<Employee> {
        if new.name.trim().is_empty() {
            return Err(StoreError::Invalid("the name is empty".into()));
        }
        let mut tx = self.begin_write().await?;
        refuse_taken_email(&mut tx, None, new.work_email.as_ref()).await?;
        let row = sqlx::query(
            "INSERT INTO employees (name, username, is_current, license, work_email, permissions, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(new.name.trim())
        .bind(blank_to_none(new.username.clone()))
        .bind(new.is_current as i64)
        .bind(blank_to_none(new.license.clone()))
        .bind(new.work_email.as_ref().map(|e| e.to_string()))
        .bind(permissions_to_text(&new.permissions))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(unique_as_taken)?;
        tx.commit().await?;
        self.employee(EmployeeId(row.try_get("id")?)).await
    }

    /// Saves every field of an existing employee. Removing „Aktuell“ or the licence ends every
    /// session and revokes every API token of the employee in the same transaction, so no caller
    /// (web, API, CLI) can forget it.
    pub async fn update_employee(&self, e: &Employee) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let before = sqlx::query("SELECT is_current, license FROM employees WHERE id = $1")
            .bind(e.id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("employee {}", e.id)))?;
        refuse_taken_email(&mut tx, Some(e.id), e.work_email.as_ref()).await?;
        let was_current = before.try_get::<i64, _>(0)? != 0;
        let had_license = blank_to_none(before.try_get(1)?).is_some();
        let license = blank_to_none(e.license.clone());
        sqlx::query(
            "UPDATE employees SET name = $1, username = $2, is_current = $3, license = $4,
             work_email = $5, permissions = $6 WHERE id = $7",
        )
        .bind(e.name.trim())
        .bind(blank_to_none(e.username.clone()))
        .bind(e.is_current as i64)
        .bind(license.clone())
        .bind(e.work_email.as_ref().map(|e| e.to_string()))
        .bind(permissions_to_text(&e.permissions))
        .bind(e.id.0)
        .execute(&mut *tx)
        .await
        .map_err(unique_as_taken)?;
        if (was_current && !e.is_current) || (had_license && license.is_none()) {
            crate::tokens::revoke_all_in(&mut tx, e.id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn employees(&self) -> Result<Vec<Employee>> {
        let sql = format!("SELECT {COLUMNS} FROM employees ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(employee_from_row).collect()
    }

    pub async fn employee(&self, id: EmployeeId) -> Result<Employee> {
        let sql = format!("SELECT {COLUMNS} FROM employees WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("employee {id}")))?;
        employee_from_row(&row)
    }

    /// The employee as the audit log names them (id and name now).
    pub async fn person(&self, id: EmployeeId) -> Result<postkorb_core::Person> {
        Ok(postkorb_core::Person::of(&self.employee(id).await?))
    }

    /// Finds an employee by id, username or exact name (the CLI's way of naming people).
    pub async fn find_employee(&self, key: &str) -> Result<Employee> {
        let key = key.trim();
        let all = self.employees().await?;
        let by_id = key.parse::<i64>().ok();
        let hits: Vec<&Employee> = all
            .iter()
            .filter(|e| Some(e.id.0) == by_id || e.username.as_deref() == Some(key) || e.name.eq_ignore_ascii_case(key))
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(StoreError::NotFound(format!("no employee named {key:?}"))),
            _ => Err(StoreError::Invalid(format!("{key:?} names several employees; use the id"))),
        }
    }

    /// Sets a new password: ends every session and revokes every API token of the employee (in
    /// the same transaction) and clears „must change the password“. A caller that keeps the
    /// employee logged in issues a new session afterwards.
    pub async fn set_password_hash(&self, id: EmployeeId, hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE employees SET password_hash = $1, must_change_password = 0 WHERE id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("employee {id}")));
        }
        crate::tokens::revoke_all_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a one-time password only if the employee has none yet (the bootstrap admin); true if
    /// this call set it. It must be changed at the first login (`must_change_password`).
    pub async fn set_one_time_password_if_unset(&self, id: EmployeeId, hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE employees SET password_hash = $1, must_change_password = 1
             WHERE id = $2 AND password_hash IS NULL",
        )
        .bind(hash)
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the employee's password is a one-time password still to be changed.
    pub async fn must_change_password(&self, id: EmployeeId) -> Result<bool> {
        let r = sqlx::query("SELECT must_change_password FROM employees WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("employee {id}")))?;
        Ok(r.try_get::<i64, _>(0)? != 0)
    }

    pub async fn password_hash(&self, username: &str) -> Result<Option<(EmployeeId, String)>> {
        let row = sqlx::query("SELECT id, password_hash FROM employees WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<String>, _>(1)?.map(|h| (EmployeeId(r.get(0)), h)),
            None => None,
        })
    }
}

/// Refuses a work e-mail another employee has (compared without case; the unique index of
/// migration 0017 is the backstop), naming that employee.
async fn refuse_taken_email(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: Option<EmployeeId>,
    email: Option<&EmailAddress>,
) -> Result<()> {
    let Some(email) = email else { return Ok(()) };
    let other = sqlx::query("SELECT name FROM employees WHERE lower(work_email) = lower($1) AND id <> $2 ORDER BY id")
        .bind(email.as_str())
        .bind(id.map(|i| i.0).unwrap_or(-1))
        .fetch_optional(&mut **tx)
        .await?;
    match other {
        Some(r) => Err(StoreError::Employee(EmployeeError::DuplicateWorkEmail {
            email: email.to_string(),
            other: r.try_get(0)?,
        })),
        None => Ok(()),
    }
}

pub(crate) fn unique_as_taken(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Employee(EmployeeError::Taken),
        _ => StoreError::Db(e),
    }
}
