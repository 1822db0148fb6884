//! How the domain's values travel to and from SQL, on both databases: row ids
//! ([`crate::domain::ids`]) as the `i64` they wrap, and the vocabulary (statuses, roles,
//! relations... [`crate::domain::vocab`]) as its text names, checked when read. Kept here so
//! that `domain/` never knows about sqlx.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::domain::sla::Target;
use crate::domain::{
    ArticleId, Channel, ContactId, ContactOrigin, Direction, EventId, EventKind, InstitutionId,
    LinkRelation, OutboxId, OutboxState, ParticipantRole, Priority, QuarantineId, ReceiptOutcome,
    Status, TicketId, TicketKind,
};

macro_rules! i64_column {
    ($($name:ident),+) => {$(
        impl<DB: Database> Type<DB> for $name
        where
            i64: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <i64 as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <i64 as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            i64: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok($name(<i64 as Decode<'r, DB>>::decode(value)?))
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            i64: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <i64 as Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }
        }
    )+};
}

i64_column!(
    TicketId,
    ContactId,
    InstitutionId,
    ArticleId,
    QuarantineId,
    OutboxId,
    EventId
);

/// A name column decodes through the enum's checked conversion; a name it does not know is a
/// decode error that says which value and which names were expected. (Not
/// `#[sqlx(try_from = "String")]`: sqlx 0.9's derive reports that error as "unprintable".)
macro_rules! text_column {
    ($($name:ident),+) => {$(
        impl<DB: Database> Type<DB> for $name
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, DB>>::decode(value)?;
                Ok($name::try_from(text)?)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            &'static str: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <&'static str as Encode<'q, DB>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    )+};
}

text_column!(
    ContactOrigin,
    TicketKind,
    Status,
    Priority,
    ParticipantRole,
    Direction,
    LinkRelation,
    EventKind,
    ReceiptOutcome,
    OutboxState,
    Channel,
    Target
);
