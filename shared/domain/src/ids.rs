//! Identifier newtypes, so a unit id can never be passed where a mailbox id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

id_type!(
    /// A unit (单位): 信访局, 政府办, a district government, a bureau.
    UnitId
);
id_type!(
    /// A jurisdiction (辖区): the city or one district/county.
    JurisdictionId
);
id_type!(
    /// A mailbox (信箱) a case is addressed to.
    MailboxId
);
id_type!(
    /// The internal, unguessable id of a case.
    CaseId
);
id_type!(
    /// The public case number (留言编号) printed for the citizen.
    CaseNumber
);
id_type!(
    /// A staff account, or a synthetic user such as the scheduler.
    UserId
);
