//! Uses the client generated from Postkorb's OpenAPI document (progenitor, at compile time) against a
//! running server: `postkorb-openapi-client BASE_URL TOKEN`. Every call deserialises into the
//! generated types, so a field the document gets wrong fails here. Prints what it saw; exits
//! non-zero on any disagreement.

mod api {
    progenitor::generate_api!(spec = "../../crates/web/openapi.json", interface = Builder);
}

use api::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(token)) = (args.next(), args.next()) else {
        return Err("usage: postkorb-openapi-client BASE_URL TOKEN".into());
    };
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse()?);
    let http = reqwest::Client::builder().default_headers(headers).build()?;
    let client = Client::new_with_client(&format!("{base}/api/v1"), http);

    let cases = client.list_cases().all(true).send().await?.into_inner();
    println!("cases: {}", cases.len());
    let first = cases.first().ok_or("the server has no Vorgang to read")?;
    let detail = client.get_case().id(first.id).send().await?.into_inner();
    println!(
        "case {}: {:?}, {} attachment(s), {} event(s)",
        detail.summary.id,
        detail.summary.subject,
        detail.attachments.len(),
        detail.events.len()
    );
    let employees = client.list_employees().send().await?.into_inner();
    println!("employees: {}", employees.len());
    let routes = client.list_routes().send().await?.into_inner();
    println!("routes: {} ({} active)", routes.len(), routes.iter().filter(|r| r.active).count());
    let kept = client.list_kept().send().await?.into_inner();
    println!("kept: {}", kept.len());
    let mailboxes = client.list_mailboxes().send().await?.into_inner();
    println!("mailboxes: {}", mailboxes.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "));
    let tokens = client.list_tokens().send().await?.into_inner();
    println!("tokens: {}", tokens.len());
    let found = client.search_cases().q("Schaden").send().await?.into_inner();
    println!("search „Schaden“: {} hit(s) on the first page", found.hits.len());
    let absences = client.list_absences().send().await?.into_inner();
    println!("absences: {}", absences.len());
    let synced = client.sync().send().await?.into_inner();
    println!("sync: claimed {}", synced.claimed.len());
    // An error answer deserialises into the documented Error.
    match client.get_case().id(i64::MAX).send().await {
        Err(progenitor_client::Error::ErrorResponse(e)) => println!("missing case: {}", e.error),
        other => return Err(format!("expected a documented 404, got {other:?}").into()),
    }
    Ok(())
}
