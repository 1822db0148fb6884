//! Row-level security on PostgreSQL: a transaction without an offer set reads nothing and
//! writes nothing; a transaction for one offer cannot read or write another's rows, even with
//! SQL that forgets its `tenant_id` filter.
//!
//! Superusers and BYPASSRLS roles skip every policy, so the test first checks that it runs as
//! the daemon would: as a role that is neither.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use chrono::{TimeZone, Utc};
use guichet::domain::{Priority, TenantId, TicketKind};
use guichet::store::{IdTable, NewTicket, Store};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool, Row};

async fn pool() -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(&common::pg_url())
        .await
        .expect("connect postgres")
}

async fn store_with_tickets(counts: &[(&TenantId, usize)]) -> Store {
    let store = Store::connect_postgres(&common::pg_url(), 2)
        .await
        .expect("connect postgres");
    store.migrate().await.expect("migrate");
    for (tenant, n) in counts {
        let mut tx = store.begin(tenant).await.unwrap();
        for _ in 0..*n {
            let new = NewTicket {
                kind: TicketKind::Incident,
                title: "secret title",
                priority: Priority::Normal,
                requester: None,
                institution_id: None,
                now: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
            };
            tx.create_ticket(&new).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    store
}

#[tokio::test]
async fn the_test_role_is_subject_to_row_level_security() {
    let row =
        sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&pool().await)
            .await
            .unwrap();
    let (superuser, bypass): (bool, bool) = (row.get(0), row.get(1));
    assert!(
        !superuser && !bypass,
        "GUICHET_TEST_PG_URL must use a role without SUPERUSER and BYPASSRLS"
    );
}

#[tokio::test]
async fn a_transaction_without_an_offer_reads_nothing() {
    let a = common::unique_tenant();
    let store = store_with_tickets(&[(&a, 2)]).await;
    let mut tx = store.begin_without_tenant_for_tests(&a).await.unwrap();
    for table in [
        IdTable::Tickets,
        IdTable::Events,
        IdTable::Contacts,
        IdTable::Outbox,
    ] {
        assert_eq!(
            tx.count_visible_for_tests(table).await.unwrap(),
            0,
            "{table:?} visible without an offer"
        );
    }
    assert!(tx.list_tickets(None).await.unwrap().is_empty());
    drop(tx);
    let mut tx = store.begin(&a).await.unwrap();
    assert_eq!(
        tx.count_visible_for_tests(IdTable::Tickets).await.unwrap(),
        2,
        "the offer itself sees its rows"
    );
}

const INSERT: &str = "INSERT INTO tickets (tenant_id, id, kind, number, title, status, priority, created_at, updated_at)
     VALUES ($1, nextval('tickets_id_seq'), 'incident', 999999, 'forged', 'new', 'normal', now(), now())";

fn is_rls_violation(e: &sqlx::Error) -> bool {
    // 42501: insufficient_privilege, "new row violates row-level security policy".
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "42501")
}

#[tokio::test]
async fn a_transaction_without_an_offer_cannot_write() {
    let a = common::unique_tenant();
    store_with_tickets(&[(&a, 1)]).await;
    let pool = pool().await;
    let mut tx = pool.begin().await.unwrap();
    let err = sqlx::query(INSERT)
        .bind(a.as_str())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(is_rls_violation(&err), "unexpected error: {err}");
}

#[tokio::test]
async fn one_offer_cannot_touch_another() {
    let (a, b) = (common::unique_tenant(), common::unique_tenant());
    store_with_tickets(&[(&a, 1), (&b, 3)]).await;
    let pool = pool().await;

    let mut tx = pool.begin().await.unwrap();
    tx.execute(sqlx::query("SELECT set_config('guichet.tenant', $1, true)").bind(a.as_str()))
        .await
        .unwrap();
    // Unfiltered statements: only A's rows are visible or changeable.
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 1);
    let updated = sqlx::query("UPDATE tickets SET title = 'overwritten' WHERE tenant_id = $1")
        .bind(b.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        updated.rows_affected(),
        0,
        "B's tickets are invisible to A's updates"
    );
    let deleted = sqlx::query("DELETE FROM tickets")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        deleted.rows_affected(),
        1,
        "a delete without filter reaches A's row only"
    );
    let err = sqlx::query(INSERT)
        .bind(b.as_str())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        is_rls_violation(&err),
        "writing a row of B from A's transaction: {err}"
    );
    drop(tx);

    // Moving one of A's rows into B is refused too.
    let mut tx = pool.begin().await.unwrap();
    tx.execute(sqlx::query("SELECT set_config('guichet.tenant', $1, true)").bind(a.as_str()))
        .await
        .unwrap();
    let err = sqlx::query("UPDATE tickets SET tenant_id = $1")
        .bind(b.as_str())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(is_rls_violation(&err), "re-tenanting a row: {err}");
}

#[tokio::test]
async fn the_offer_setting_ends_with_its_transaction() {
    let a = common::unique_tenant();
    store_with_tickets(&[(&a, 1)]).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&common::pg_url())
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    tx.execute(sqlx::query("SELECT set_config('guichet.tenant', $1, true)").bind(a.as_str()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Same (only) pooled connection, next transaction: the setting is gone.
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(seen, 0);
}

#[tokio::test]
async fn every_table_has_row_level_security_enabled_and_forced() {
    let store = Store::connect_postgres(&common::pg_url(), 1)
        .await
        .expect("connect postgres");
    store.migrate().await.expect("migrate");
    let rows: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations'
         ORDER BY c.relname",
    )
    .fetch_all(&pool().await)
    .await
    .unwrap();
    assert!(
        rows.len() >= 15,
        "expected the whole schema, found {rows:?}"
    );
    let unprotected: Vec<&String> = rows
        .iter()
        .filter(|(_, on, forced)| !(*on && *forced))
        .map(|(t, ..)| t)
        .collect();
    assert!(
        unprotected.is_empty(),
        "tables without enabled and forced RLS: {unprotected:?}"
    );
}
