//! `GET /api/v1/audit`: the audit log („Protokoll › Änderungen“), newest first, with the page's
//! filters (kind, actor, office days) and pages; only for holders of „E-Mails automatisch
//! einlesen“, like the page. Read only: no route changes or deletes an entry (append-only, store
//! migration 0027).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use postkorb_core::{Permission, audit};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WebState;
use crate::auth::api_user;
use crate::error::{ApiError, WebError};
use crate::pages::protokoll::{actor_name, audit_filter, change_row};

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(State(s): State<WebState>, h: HeaderMap, Query(q): Query<AuditQuery>) -> Result<Response, ApiError> {
    let me = api_user(&s, &h).await?;
    if !me.has(Permission::ManageMailImport) {
        return Err(ApiError(Permission::ManageMailImport.into()));
    }
    let filter = audit_filter(&q.action, &q.actor, &q.from, &q.until)
        .map_err(|_| ApiError(WebError::BadRequest("from and until are days (YYYY-MM-DD)".into())))?;
    let (rows, total) =
        s.store.audit_page(&filter, q.limit.unwrap_or(100).clamp(1, 1000), q.offset.unwrap_or(0).max(0)).await?;
    let employees = s.store.employees().await?;
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            let row = change_row(r, &employees);
            json!({
                "id": r.id,
                "at_ms": r.at_ms,
                "actor": r.actor,
                "actor_name": actor_name(&r.actor, &employees),
                "action": r.action,
                "kind": audit::KINDS.iter().find(|(c, _)| *c == r.action).map(|(_, n)| *n),
                "text": row.sentence,
                "detail": row.old_detail,
            })
        })
        .collect();
    Ok(Json(json!({"entries": entries, "total": total})).into_response())
}
