//! Mirrors the configuration (offer, institutions, contacts and their roles) into each
//! offer's partition of the store, at start-up and before a one-shot command. Idempotent.
//!
//! Institutions and contacts are copied into every offer: a contact may write to any offer,
//! and each offer's rows must stand alone (tenant isolation).

use super::Context;
use crate::config::OfferConfig;
use crate::store::{AddressKind, NewContact, OfferRow, StoreError};

pub async fn sync_offer(ctx: &Context, offer: &OfferConfig) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    tx.upsert_offer(&OfferRow {
        name: offer.name.clone(),
        provider: offer.provider.clone(),
        locale: offer.locale.clone(),
        support_address: offer.support_addresses.first().cloned().unwrap_or_default(),
        updated_at: now,
    })
    .await?;
    let mut institution_ids = Vec::new();
    for inst in &ctx.config.institutions {
        let id = tx
            .upsert_institution(&inst.key, &inst.name, &inst.domains)
            .await?;
        institution_ids.push((inst.key.as_str(), id));
    }
    let institution_of = |key: &Option<String>| {
        key.as_deref().and_then(|k| {
            institution_ids
                .iter()
                .find(|(ik, _)| *ik == k)
                .map(|(_, id)| *id)
        })
    };
    for contact in &ctx.config.contacts {
        let institution_id = institution_of(&contact.institution);
        let mut existing = None;
        for email in &contact.emails {
            if let Some(c) = tx.contact_by_address(AddressKind::Email, email).await? {
                existing = Some(c.id);
                break;
            }
        }
        let id = match existing {
            Some(id) => {
                tx.update_contact(id, Some(&contact.name), institution_id)
                    .await?;
                id
            }
            None => {
                let new = NewContact {
                    name: Some(&contact.name),
                    institution_id,
                    origin: crate::domain::ContactOrigin::Config,
                    now,
                };
                tx.create_contact(&new).await?
            }
        };
        for email in &contact.emails {
            tx.set_contact_address(id, AddressKind::Email, email)
                .await?;
        }
        for mxid in &contact.matrix_ids {
            tx.set_contact_address(id, AddressKind::Matrix, mxid)
                .await?;
        }
        let roles: Vec<&str> = contact
            .roles
            .iter()
            .filter(|(code, _)| *code == offer.code)
            .flat_map(|(_, roles)| roles.iter().map(|r| r.as_str()))
            .collect();
        tx.set_contact_roles(id, &roles).await?;
        // Without a locale in the file, the one their mail declared (if any) stays.
        if let Some(locale) = &contact.locale {
            tx.set_contact_locale(id, Some(locale), false).await?;
        }
    }
    tx.commit().await
}

/// Mirrors every configured offer.
pub async fn sync_all(ctx: &Context) -> Result<(), StoreError> {
    for offer in &ctx.config.offers {
        sync_offer(ctx, offer).await?;
    }
    Ok(())
}

/// Mirrors the offer only if it was never written (the daemon syncs at start; `deliver` may
/// run before it ever did, and must stay cheap when it did).
pub async fn ensure_offer(ctx: &Context, offer: &OfferConfig) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let present = tx.offer().await?.is_some();
    tx.rollback().await?;
    if !present {
        sync_offer(ctx, offer).await?;
    }
    Ok(())
}
