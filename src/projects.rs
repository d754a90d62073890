//! Projects and roles: the unit of ownership and sharing.
//!
//! Every prompt (later) belongs to a project; a user reaches a project through a membership
//! with a [`Role`]. What each role may do is decided here, in [`Role::allows`], and nowhere
//! else; the `ssr` side (`crate::auth::authorize`) only looks the membership up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in a project, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Editor,
    Viewer,
}

/// Something a member may try to do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the project and its contents.
    Read,
    /// Create and change contents (prompts, versions, runs).
    Write,
    /// Manage members, rename or delete the project.
    Administer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    /// Parse the stored form; `None` for anything unknown.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Self::Owner),
            "editor" => Some(Self::Editor),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }

    /// The single rule of authorization.
    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Read => true,
            Action::Write => matches!(self, Self::Owner | Self::Editor),
            Action::Administer => self == Self::Owner,
        }
    }
}

/// A project as its member sees it, with the member's role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    /// The project every user gets at registration.
    pub personal: bool,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_matrix() {
        use Action::*;
        use Role::*;
        let table = [
            (Owner, [true, true, true]),
            (Editor, [true, true, false]),
            (Viewer, [true, false, false]),
        ];
        for (role, expected) in table {
            let got = [
                role.allows(Read),
                role.allows(Write),
                role.allows(Administer),
            ];
            assert_eq!(got, expected, "{role:?}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Owner, Role::Editor, Role::Viewer] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
