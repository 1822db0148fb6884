//! Offers, institutions and contacts: the rows `service::sync` copies from the configuration,
//! and the contacts inbound mail creates.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{
    AddressKind, ContactRow, IdTable, InstitutionRow, NewContact, OfferRow, Result, StoreError, Tx,
    TxInner, sqlite,
};
use crate::domain::{ContactId, InstitutionId, ParticipantRole, TicketId};

/// The people who may hear of a ticket: the offer's agents and governance contacts, and the
/// ticket's participants, each once. Both databases accept it as written (`EXISTS` is an
/// integer on SQLite, a boolean on PostgreSQL; sqlx decodes either as `bool`). The address
/// is the first of the contact's mail addresses that no bounce suppresses at `$3`, compared
/// as `SELECT_SUPPRESSED` in `bounces.rs` does. Role names are those `service::sync` writes.
const SELECT_AUDIENCE: &str = "SELECT c.id AS contact_id, c.name, c.institution_id, c.locale, \
     (SELECT MIN(a.address) FROM contact_addresses a \
       WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id AND a.kind = 'email' \
         AND NOT EXISTS (SELECT 1 FROM bouncing_addresses b \
           WHERE b.tenant_id = a.tenant_id AND b.address = a.address \
             AND b.suppressed_until > $3)) AS email, \
     EXISTS (SELECT 1 FROM contact_roles r \
       WHERE r.tenant_id = c.tenant_id AND r.contact_id = c.id AND r.role = 'agent') AS agent, \
     EXISTS (SELECT 1 FROM contact_roles r \
       WHERE r.tenant_id = c.tenant_id AND r.contact_id = c.id AND r.role = 'governance') \
       AS governance, \
     p.role AS participant \
     FROM contacts c \
     LEFT JOIN participants p \
       ON p.tenant_id = c.tenant_id AND p.ticket_id = $2 AND p.contact_id = c.id \
     WHERE c.tenant_id = $1 AND (p.contact_id IS NOT NULL OR EXISTS (SELECT 1 FROM contact_roles r \
       WHERE r.tenant_id = c.tenant_id AND r.contact_id = c.id \
         AND r.role IN ('agent', 'governance'))) \
     ORDER BY c.id";

/// A contact's language ([`Tx::contact_locale`]).
const SELECT_CONTACT_LOCALE: &str = "SELECT locale FROM contacts WHERE tenant_id = $1 AND id = $2";
/// Sets a contact's language ([`Tx::set_contact_locale`]); with `$4` true, only when it has
/// none.
const UPDATE_CONTACT_LOCALE: &str = "UPDATE contacts SET locale = $3 \
     WHERE tenant_id = $1 AND id = $2 AND (locale IS NULL OR NOT $4)";

/// One person who may hear of a ticket ([`Tx::audience`]): what `domain::audience::Person`
/// needs, and the name and address to write to.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AudienceRow {
    /// Who they are.
    pub contact_id: ContactId,
    /// Display name, if known.
    pub name: Option<String>,
    /// Their institution, if known.
    pub institution_id: Option<InstitutionId>,
    /// The language they read (`fr`, `en`), when known: their mail goes in it rather than in
    /// the offer's.
    pub locale: Option<String>,
    /// Their first mail address that no bounce suppresses; `None` when they have none.
    pub email: Option<String>,
    /// An agent of this offer.
    pub agent: bool,
    /// A governance contact of this offer.
    pub governance: bool,
    /// Their part in the ticket, if they have one.
    pub participant: Option<ParticipantRole>,
}

impl Tx {
    /// Writes this offer's row from the configuration (`service::sync`).
    pub async fn upsert_offer(&mut self, o: &OfferRow) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "upsert_offer", |c| {
            sqlx::query(sql::UPSERT_OFFER)
                .bind(t)
                .bind(&o.name)
                .bind(&o.provider)
                .bind(&o.locale)
                .bind(&o.support_address)
                .bind(o.updated_at)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// This offer's row; `None` before its first synchronisation.
    pub async fn offer(&mut self) -> Result<Option<OfferRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "offer", |c| sqlx::query_as(sql::SELECT_OFFER)
            .bind(t)
            .fetch_optional(c)
            .await?))
    }

    /// Inserts or updates an institution by key; returns its id.
    pub async fn upsert_institution(
        &mut self,
        key: &str,
        name: &str,
        domains: &[String],
    ) -> Result<InstitutionId> {
        let t = self.tenant.as_str().to_owned();
        let domains = domains.join(" ");
        let existing: Option<i64> = on!(self, "upsert_institution", |c| {
            sqlx::query_scalar(sql::SELECT_INSTITUTION_ID)
                .bind(&t)
                .bind(key)
                .fetch_optional(c)
                .await?
        });
        let id = match existing {
            Some(id) => id,
            None => self.next_id(IdTable::Institutions).await?,
        };
        exec!(self, "upsert_institution", |c| {
            sqlx::query(sql::UPSERT_INSTITUTION)
                .bind(&t)
                .bind(id)
                .bind(key)
                .bind(name)
                .bind(&domains)
                .execute(c)
                .await?
        });
        Ok(InstitutionId(id))
    }

    /// The offer's institutions, by id.
    pub async fn institutions(&mut self) -> Result<Vec<InstitutionRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "institutions", |c| sqlx::query_as(
            sql::SELECT_INSTITUTIONS
        )
        .bind(t)
        .fetch_all(c)
        .await?))
    }

    /// One institution of the offer, if it exists.
    pub async fn institution(&mut self, id: InstitutionId) -> Result<Option<InstitutionRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "institution", |c| {
            sqlx::query_as(sql::SELECT_INSTITUTION)
                .bind(t)
                .bind(id)
                .fetch_optional(c)
                .await?
        }))
    }

    /// The contact known by `address` (compared lower-case), if any.
    pub async fn contact_by_address(
        &mut self,
        kind: AddressKind,
        address: &str,
    ) -> Result<Option<ContactRow>> {
        let address = address.to_ascii_lowercase();
        if let Some(known) = self.known_contacts.get(&(kind.as_str(), address.clone())) {
            return Ok(known.clone());
        }
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "contact_by_address",
            query_as_with,
            sql::SELECT_CONTACT_BY_ADDRESS,
            [t, kind.as_str(), &address],
            fetch_optional
        ))
    }

    /// SQLite: reads the contacts of `addresses` in one statement, so that
    /// [`Tx::contact_by_address`] answers for them without a round trip to sqlx's worker
    /// thread each (a batch of mail reads its senders at once: issue 7's drain). On
    /// PostgreSQL, nothing: each address is read when asked for.
    pub async fn read_contacts_ahead(
        &mut self,
        kind: AddressKind,
        addresses: &[&str],
    ) -> Result<()> {
        let TxInner::Sqlite(c) = &mut self.inner else {
            return Ok(());
        };
        if addresses.is_empty() {
            return Ok(());
        }
        let lower: Vec<String> = addresses.iter().map(|a| a.to_ascii_lowercase()).collect();
        let t = self.tenant.as_str();
        let listed = serde_json::Value::from(lower.clone()).to_string();
        let statement = sqlite::SELECT_CONTACTS_BY_ADDRESSES;
        let found: Vec<AddressedContact> = fetch_held!(
            self.held,
            c,
            query_as_with,
            statement,
            [t, kind.as_str(), listed],
            fetch_all
        )
        .map_err(|e| StoreError::query("read_contacts_ahead", e))?;
        for address in lower {
            self.known_contacts.insert((kind.as_str(), address), None);
        }
        for row in found {
            let key = (kind.as_str(), row.address);
            self.known_contacts.insert(key, Some(row.contact));
        }
        Ok(())
    }

    /// One contact of the offer, if it exists.
    pub async fn contact(&mut self, id: ContactId) -> Result<Option<ContactRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "contact", |c| {
            sqlx::query_as(sql::SELECT_CONTACT)
                .bind(t)
                .bind(id.0)
                .fetch_optional(c)
                .await?
        }))
    }

    /// Creates a contact without addresses; returns its id.
    pub async fn create_contact(&mut self, new: &NewContact<'_>) -> Result<ContactId> {
        self.known_contacts.clear();
        let id = self.next_id(IdTable::Contacts).await?;
        let t = self.tenant.as_str();
        exec!(self, "create_contact", |c| {
            sqlx::query(sql::INSERT_CONTACT)
                .bind(t)
                .bind(id)
                .bind(new.name)
                .bind(new.institution_id)
                .bind(new.origin.as_str())
                .bind(new.now)
                .execute(c)
                .await?
        });
        Ok(ContactId(id))
    }

    /// Replaces a contact's name and institution (`None` clears them).
    pub async fn update_contact(
        &mut self,
        id: ContactId,
        name: Option<&str>,
        institution_id: Option<InstitutionId>,
    ) -> Result<()> {
        self.known_contacts.clear();
        let t = self.tenant.as_str();
        exec!(self, "update_contact", |c| {
            sqlx::query(sql::UPDATE_CONTACT)
                .bind(t)
                .bind(id.0)
                .bind(name)
                .bind(institution_id)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// The language `contact` reads (`fr`, `en`), if known.
    pub async fn contact_locale(&mut self, contact: ContactId) -> Result<Option<String>> {
        let t = self.tenant.as_str();
        let locale: Option<Option<String>> = on!(self, "contact_locale", |c| {
            sqlx::query_scalar(SELECT_CONTACT_LOCALE)
                .bind(t)
                .bind(contact.0)
                .fetch_optional(c)
                .await?
        });
        Ok(locale.flatten())
    }

    /// Sets the language `contact` reads (`None` clears it); with `only_if_unset`, a
    /// language already known is kept.
    pub async fn set_contact_locale(
        &mut self,
        contact: ContactId,
        locale: Option<&str>,
        only_if_unset: bool,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "set_contact_locale", |c| {
            sqlx::query(UPDATE_CONTACT_LOCALE)
                .bind(t)
                .bind(contact.0)
                .bind(locale)
                .bind(only_if_unset)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Gives `address` to `contact` (moving it from another contact if it had it).
    pub async fn set_contact_address(
        &mut self,
        contact: ContactId,
        kind: AddressKind,
        address: &str,
    ) -> Result<()> {
        self.known_contacts.clear();
        let t = self.tenant.as_str();
        let address = address.to_ascii_lowercase();
        exec!(self, "set_contact_address", |c| {
            sqlx::query(sql::UPSERT_CONTACT_ADDRESS)
                .bind(t)
                .bind(kind.as_str())
                .bind(&address)
                .bind(contact.0)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Gives `address` to `contact` unless another contact has it; returns whether it did.
    pub async fn add_contact_address_if_absent(
        &mut self,
        contact: ContactId,
        kind: AddressKind,
        address: &str,
    ) -> Result<bool> {
        self.known_contacts.clear();
        let t = self.tenant.as_str();
        let address = address.to_ascii_lowercase();
        let added = on!(self, "add_contact_address_if_absent", |c| {
            sqlx::query(sql::INSERT_CONTACT_ADDRESS_IF_ABSENT)
                .bind(t)
                .bind(kind.as_str())
                .bind(&address)
                .bind(contact.0)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(added == 1)
    }

    /// The contact's mail addresses, lower-case, in alphabetical order.
    pub async fn contact_emails(&mut self, contact: ContactId) -> Result<Vec<String>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "contact_emails", |c| {
            sqlx::query_scalar(sql::SELECT_CONTACT_EMAILS)
                .bind(t)
                .bind(contact.0)
                .fetch_all(c)
                .await?
        }))
    }

    /// Replaces the contact's roles on this offer.
    pub async fn set_contact_roles(&mut self, contact: ContactId, roles: &[&str]) -> Result<()> {
        let t = self.tenant.as_str().to_owned();
        exec!(self, "set_contact_roles", |c| {
            sqlx::query(sql::DELETE_CONTACT_ROLES)
                .bind(&t)
                .bind(contact.0)
                .execute(&mut *c)
                .await?;
            for role in roles {
                sqlx::query(sql::INSERT_CONTACT_ROLE)
                    .bind(&t)
                    .bind(contact.0)
                    .bind(*role)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(())
    }

    /// The contact's roles on this offer (`agent`, `governance`...), in alphabetical order.
    pub async fn contact_roles(&mut self, contact: ContactId) -> Result<Vec<String>> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "contact_roles",
            query_scalar_with,
            sql::SELECT_CONTACT_ROLES,
            [t, contact.0],
            fetch_all
        ))
    }

    /// The offer's agents and governance contacts, as [`Tx::audience`] gives them for no
    /// ticket (the daily digest, the weekly report).
    pub async fn team(&mut self, now: DateTime<Utc>) -> Result<Vec<AudienceRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "team", |c| {
            sqlx::query_as(SELECT_AUDIENCE)
                .bind(t)
                .bind(None::<i64>)
                .bind(now)
                .fetch_all(c)
                .await?
        }))
    }

    /// The offer's agents and governance contacts and the participants of `ticket`, by
    /// contact id, each once, with the address mail to them would go to at `now`.
    pub async fn audience(
        &mut self,
        ticket: TicketId,
        now: DateTime<Utc>,
    ) -> Result<Vec<AudienceRow>> {
        let t = self.tenant.as_str();
        // With the writes held back, in one round trip: ingest asks after a message's writes.
        Ok(fetch!(
            self,
            "audience",
            query_as_with,
            SELECT_AUDIENCE,
            [t, ticket.0, now],
            fetch_all
        ))
    }
}

/// A contact with the address it was found by ([`Tx::read_contacts_ahead`]).
#[derive(FromRow)]
struct AddressedContact {
    address: String,
    #[sqlx(flatten)]
    contact: ContactRow,
}
