//! Sender rows („E-Mail-Adressen verwalten“): Von → An, checked by the core rules on save.

use postkorb_core::{EmployeeId, SenderRoute, check_new_route};
use sqlx::Row;

use crate::{Result, RuleErrors, Store, StoreError};

impl Store {
    pub async fn routes(&self) -> Result<Vec<SenderRoute>> {
        let rows = sqlx::query("SELECT id, from_employee, to_employee FROM sender_routes ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| SenderRoute { id: r.get(0), from: EmployeeId(r.get(1)), to: EmployeeId(r.get(2)) })
            .collect())
    }

    /// Adds a row after checking the rules of the description against the employees as they are now.
    pub async fn add_route(&self, from: EmployeeId, to: EmployeeId, now_ms: i64) -> Result<SenderRoute> {
        let employees = self.employees().await?;
        let existing = self.routes().await?;
        check_new_route(from, to, &employees, &existing).map_err(|e| StoreError::Rules(RuleErrors(e)))?;
        let row = sqlx::query(
            "INSERT INTO sender_routes (from_employee, to_employee, created_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(from.0)
        .bind(to.0)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Rules(RuleErrors(vec![postkorb_core::RouteError::Duplicate]))
            }
            _ => StoreError::Db(e),
        })?;
        Ok(SenderRoute { id: row.try_get(0)?, from, to })
    }

    pub async fn remove_route(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM sender_routes WHERE id = $1").bind(id).execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("sender row {id}")));
        }
        Ok(())
    }
}
