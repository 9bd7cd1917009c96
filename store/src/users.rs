//! Users, units, devices and the tokens phones hold.

use crate::Result;
use crate::conn::{Conn, Finish};
use crate::sql::{Row, args};

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub unit: String,
    pub display_name: String,
    pub disabled: bool,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub unit: &'a str,
    pub display_name: &'a str,
    pub created_at: i64,
}

/// A device row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub user_id: i64,
    pub last_seen: i64,
    pub public_key: Option<String>,
    pub actor: Option<String>,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub user: UserRow,
    pub device_id: String,
    pub device_actor: Option<String>,
    pub expires_at: i64,
    pub revoked: bool,
}

/// A user as administration lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
    pub disabled: bool,
    pub created_at: i64,
    /// A leader of the unit (单位负责人): late supervision orders escalate to them.
    pub leader: bool,
}

/// A device as administration lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    pub device_id: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Tokens neither revoked nor expired.
    pub active_tokens: i64,
    /// When an admin revoked the device (it cannot log in until let back).
    pub revoked_at: Option<i64>,
}

/// A change to a user (only what is `Some`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub disabled: Option<bool>,
    pub leader: Option<bool>,
    pub password_hash: Option<String>,
    pub role: Option<String>,
    pub unit: Option<String>,
}

/// A unit (供电单位) as customers see it: its display name (e.g. 邾县供电公司), the service hall's
/// address and opening hours, and its hotline.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct UnitRecord {
    pub unit: String,
    pub name: String,
    pub address: String,
    pub hall_hours: String,
    pub hotline: String,
}

/// A manager's title and skill grade (codes of `field_core::qualification`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QualificationRow {
    pub username: String,
    pub title: String,
    pub skill: String,
}

/// A training a user passed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrainingRow {
    pub id: String,
    pub username: String,
    pub course: String,
    /// `YYYY-MM-DD`.
    pub completed_on: String,
    pub certificate: String,
    pub recorded_at: i64,
    pub recorded_by: String,
}

const UNIT_COLS: &str = "unit, name, address, hall_hours, hotline";

fn unit_row(r: &Row) -> Result<UnitRecord> {
    Ok(UnitRecord {
        unit: r.get(0)?,
        name: r.get(1)?,
        address: r.get(2)?,
        hall_hours: r.get(3)?,
        hotline: r.get(4)?,
    })
}

/// Reads of users, units, devices and tokens.
pub trait UserReads {
    fn user_by_name(&self, username: &str) -> Result<Option<UserRow>>;

    /// When device `device_id` was revoked (`Some(None)`: it is not; `None`: no such device).
    fn device_revoked(&self, device_id: &str) -> Result<Option<Option<i64>>>;

    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>>;

    fn token(&self, hash: &[u8]) -> Result<Option<TokenRow>>;

    /// `(username, display name, role)` of a unit's users (every unit's for `None`).
    fn users_of(&self, unit: Option<&str>) -> Result<Vec<(String, String, String)>>;

    /// The user ids of a unit's active users, by user name (their public work numbers).
    fn user_ids(&self, unit: &str) -> Result<Vec<(String, i64)>>;

    /// The device and user each automerge actor (hex) writes for, where known:
    /// `(actor, device_id, username, display_name)`.
    fn actor_devices(&self, actors: &[String]) -> Result<Vec<(String, String, String, String)>>;

    /// Every user of a unit (every unit's for `None`), disabled ones too.
    fn user_list(&self, unit: Option<&str>) -> Result<Vec<UserSummary>>;

    /// A user's devices, the most recently seen first.
    fn user_devices(&self, user_id: i64, now: i64) -> Result<Vec<DeviceSummary>>;

    /// `(username, display name)` of a unit's enabled leaders.
    fn unit_leaders(&self, unit: &str) -> Result<Vec<(String, String)>>;

    /// Every unit's record, by code.
    fn units(&self) -> Result<Vec<UnitRecord>>;

    /// A unit's name, `None` when no such unit exists.
    fn unit_name(&self, unit: &str) -> Result<Option<String>>;

    /// A unit's record, `None` when no such unit exists.
    fn unit_record(&self, unit: &str) -> Result<Option<UnitRecord>>;

    /// The titles and skill grades recorded for the users of `unit`.
    fn qualifications_of(&self, unit: &str) -> Result<Vec<QualificationRow>>;

    /// The trainings of the users of `unit`, oldest first.
    fn trainings_of(&self, unit: &str) -> Result<Vec<TrainingRow>>;
}

/// Writes of users, units, devices and tokens.
pub trait UserWrites {
    /// `None` when the username is taken.
    fn insert_user(&mut self, user: &NewUser) -> Result<Option<i64>>;

    /// A new unit; `false` when its code is taken.
    fn insert_unit(&mut self, unit: &str, name: &str, at: i64, by: &str) -> Result<bool>;

    /// Changes a unit's name, address, hours and hotline; `false` when there is no such unit.
    fn update_unit(&mut self, u: &UnitRecord) -> Result<bool>;

    /// Records a user's title and skill grade.
    fn set_qualification(&mut self, q: &QualificationRow, at: i64, by: &str) -> Result<()>;

    /// Records a training a user passed.
    fn insert_training(&mut self, t: &TrainingRow) -> Result<()>;

    /// Removes a training recorded by mistake; `false` when there is none.
    fn delete_training(&mut self, id: &str, username: &str) -> Result<bool>;

    fn upsert_device(&mut self, device: &DeviceRow) -> Result<()>;

    fn insert_token(
        &mut self,
        hash: &[u8],
        user_id: i64,
        device_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()>;

    /// Marks a device revoked at `at`, or lets it back (`None`); whether it exists.
    fn set_device_revoked(&mut self, device_id: &str, at: Option<i64>) -> Result<bool>;

    fn revoke_device_tokens(&mut self, device_id: &str, at: i64) -> Result<usize>;

    /// Ends every token and browser session of a user (trust in them ended): `(tokens,
    /// sessions)` ended.
    fn end_user_credentials(&mut self, user_id: i64, at: i64) -> Result<(usize, usize)>;

    /// Applies `change` to a user; `false` when there is no such user.
    fn update_user(&mut self, username: &str, change: &UserChange) -> Result<bool>;
}

impl<T: Conn> UserReads for T {
    fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        self.db().opt(
            &format!("SELECT {USER_COLS} FROM users u WHERE u.username = ?1"),
            args![username],
            |r| user_row(r, 0),
        )
    }

    fn device_revoked(&self, device_id: &str) -> Result<Option<Option<i64>>> {
        self.db().opt(
            "SELECT revoked_at FROM devices WHERE device_id = ?1",
            args![device_id],
            |r| r.get(0),
        )
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>> {
        self.db().opt(
            "SELECT device_id, user_id, last_seen, public_key, actor FROM devices
             WHERE device_id = ?1",
            args![device_id],
            |r| {
                Ok(DeviceRow {
                    device_id: r.get(0)?,
                    user_id: r.get(1)?,
                    last_seen: r.get(2)?,
                    public_key: r.get(3)?,
                    actor: r.get(4)?,
                })
            },
        )
    }

    fn token(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        self.db().opt(
            &format!(
                "SELECT {USER_COLS}, t.device_id, d.actor, t.expires_at,
                    CASE WHEN t.revoked_at IS NULL THEN 0 ELSE 1 END
                 FROM tokens t JOIN users u ON u.id = t.user_id
                 LEFT JOIN devices d ON d.device_id = t.device_id
                 WHERE t.hash = ?1"
            ),
            args![hash],
            |r| {
                Ok(TokenRow {
                    user: user_row(r, 0)?,
                    device_id: r.get(7)?,
                    device_actor: r.get(8)?,
                    expires_at: r.get(9)?,
                    revoked: r.get(10)?,
                })
            },
        )
    }

    fn users_of(&self, unit: Option<&str>) -> Result<Vec<(String, String, String)>> {
        self.db().all(
            "SELECT username, display_name, role FROM users
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND disabled = 0
             ORDER BY role, username",
            args![unit],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    fn user_ids(&self, unit: &str) -> Result<Vec<(String, i64)>> {
        self.db().all(
            "SELECT username, id FROM users WHERE unit = ?1 AND disabled = 0",
            args![unit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn actor_devices(&self, actors: &[String]) -> Result<Vec<(String, String, String, String)>> {
        let mut out = Vec::new();
        for actor in actors {
            if let Some(row) = self.db().opt(
                "SELECT d.actor, d.device_id, u.username, u.display_name
                 FROM devices d JOIN users u ON u.id = d.user_id WHERE d.actor = ?1",
                args![actor],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )? {
                out.push(row);
            }
        }
        Ok(out)
    }

    fn user_list(&self, unit: Option<&str>) -> Result<Vec<UserSummary>> {
        self.db().all(
            "SELECT username, display_name, role, unit, disabled, created_at, leader FROM users
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) ORDER BY unit, role, username",
            args![unit],
            |r| {
                Ok(UserSummary {
                    username: r.get(0)?,
                    display_name: r.get(1)?,
                    role: r.get(2)?,
                    unit: r.get(3)?,
                    disabled: r.get(4)?,
                    created_at: r.get(5)?,
                    leader: r.get(6)?,
                })
            },
        )
    }

    fn user_devices(&self, user_id: i64, now: i64) -> Result<Vec<DeviceSummary>> {
        self.db().all(
            "SELECT d.device_id, d.first_seen, d.last_seen,
                    (SELECT COUNT(*) FROM tokens t WHERE t.device_id = d.device_id
                        AND t.user_id = d.user_id AND t.revoked_at IS NULL AND t.expires_at > ?2),
                    d.revoked_at
             FROM devices d WHERE d.user_id = ?1 ORDER BY d.last_seen DESC, d.device_id",
            args![user_id, now],
            |r| {
                Ok(DeviceSummary {
                    device_id: r.get(0)?,
                    first_seen: r.get(1)?,
                    last_seen: r.get(2)?,
                    active_tokens: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            },
        )
    }

    fn unit_leaders(&self, unit: &str) -> Result<Vec<(String, String)>> {
        self.db().all(
            "SELECT username, display_name FROM users
             WHERE unit = ?1 AND leader = 1 AND disabled = 0 ORDER BY username",
            args![unit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn units(&self) -> Result<Vec<UnitRecord>> {
        self.db().all(
            &format!("SELECT {UNIT_COLS} FROM units ORDER BY unit"),
            args![],
            unit_row,
        )
    }

    fn unit_record(&self, unit: &str) -> Result<Option<UnitRecord>> {
        self.db().opt(
            &format!("SELECT {UNIT_COLS} FROM units WHERE unit = ?1"),
            args![unit],
            unit_row,
        )
    }

    fn qualifications_of(&self, unit: &str) -> Result<Vec<QualificationRow>> {
        self.db().all(
            "SELECT q.username, q.title, q.skill FROM qualifications q
             JOIN users u ON u.username = q.username WHERE u.unit = ?1 ORDER BY q.username",
            args![unit],
            |r| {
                Ok(QualificationRow {
                    username: r.get(0)?,
                    title: r.get(1)?,
                    skill: r.get(2)?,
                })
            },
        )
    }

    fn trainings_of(&self, unit: &str) -> Result<Vec<TrainingRow>> {
        self.db().all(
            "SELECT t.id, t.username, t.course, t.completed_on, t.certificate, t.recorded_at,
                    t.recorded_by
             FROM trainings t JOIN users u ON u.username = t.username WHERE u.unit = ?1
             ORDER BY t.username, t.completed_on, t.id",
            args![unit],
            |r| {
                Ok(TrainingRow {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    course: r.get(2)?,
                    completed_on: r.get(3)?,
                    certificate: r.get(4)?,
                    recorded_at: r.get(5)?,
                    recorded_by: r.get(6)?,
                })
            },
        )
    }

    fn unit_name(&self, unit: &str) -> Result<Option<String>> {
        self.db()
            .opt("SELECT name FROM units WHERE unit = ?1", args![unit], |r| {
                r.get(0)
            })
    }
}

impl<T: Conn + Finish> UserWrites for T {
    fn insert_user(&mut self, u: &NewUser) -> Result<Option<i64>> {
        self.db().opt(
            "INSERT INTO users (username, password_hash, role, unit, display_name, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING RETURNING id",
            args![
                u.username,
                u.password_hash,
                u.role,
                u.unit,
                u.display_name,
                u.created_at
            ],
            |r| r.get(0),
        )
    }

    fn insert_unit(&mut self, unit: &str, name: &str, at: i64, by: &str) -> Result<bool> {
        Ok(self.db().execute(
            "INSERT INTO units (unit, name, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            args![unit, name, at, by],
        )? == 1)
    }

    fn set_qualification(&mut self, q: &QualificationRow, at: i64, by: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO qualifications (username, title, skill, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (username) DO UPDATE SET title = excluded.title,
                skill = excluded.skill, updated_at = excluded.updated_at,
                updated_by = excluded.updated_by",
            args![&q.username, &q.title, &q.skill, at, by],
        )?;
        Ok(())
    }

    fn insert_training(&mut self, t: &TrainingRow) -> Result<()> {
        self.db().execute(
            "INSERT INTO trainings (id, username, course, completed_on, certificate, recorded_at,
                recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![
                &t.id,
                &t.username,
                &t.course,
                &t.completed_on,
                &t.certificate,
                t.recorded_at,
                &t.recorded_by
            ],
        )?;
        Ok(())
    }

    fn delete_training(&mut self, id: &str, username: &str) -> Result<bool> {
        Ok(self.db().execute(
            "DELETE FROM trainings WHERE id = ?1 AND username = ?2",
            args![id, username],
        )? == 1)
    }

    fn update_unit(&mut self, u: &UnitRecord) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE units SET name = ?2, address = ?3, hall_hours = ?4, hotline = ?5
             WHERE unit = ?1",
            args![&u.unit, &u.name, &u.address, &u.hall_hours, &u.hotline],
        )? == 1)
    }

    fn upsert_device(&mut self, d: &DeviceRow) -> Result<()> {
        // A device keeps the first key and actor it registered.
        self.db().execute(
            "INSERT INTO devices (device_id, user_id, first_seen, last_seen, public_key, actor)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)
             ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
                public_key = COALESCE(devices.public_key, excluded.public_key),
                actor = COALESCE(devices.actor, excluded.actor)",
            args![
                &d.device_id,
                d.user_id,
                d.last_seen,
                &d.public_key,
                &d.actor
            ],
        )?;
        Ok(())
    }

    fn insert_token(
        &mut self,
        hash: &[u8],
        user_id: i64,
        device_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            args![hash, user_id, device_id, created_at, expires_at],
        )?;
        Ok(())
    }

    fn set_device_revoked(&mut self, device_id: &str, at: Option<i64>) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE devices SET revoked_at = ?2 WHERE device_id = ?1",
            args![device_id, at],
        )? > 0)
    }

    fn revoke_device_tokens(&mut self, device_id: &str, at: i64) -> Result<usize> {
        Ok(self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
            args![device_id, at],
        )? as usize)
    }

    fn end_user_credentials(&mut self, user_id: i64, at: i64) -> Result<(usize, usize)> {
        let tokens = self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            args![user_id, at],
        )? as usize;
        let sessions = self.db().execute(
            "UPDATE web_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            args![user_id, at],
        )? as usize;
        Ok((tokens, sessions))
    }

    fn update_user(&mut self, username: &str, c: &UserChange) -> Result<bool> {
        let n = self.db().execute(
            "UPDATE users SET disabled = COALESCE(?2, disabled),
                password_hash = COALESCE(?3, password_hash), role = COALESCE(?4, role),
                unit = COALESCE(?5, unit), leader = COALESCE(?6, leader)
             WHERE username = ?1",
            args![
                username,
                c.disabled,
                &c.password_hash,
                &c.role,
                &c.unit,
                c.leader
            ],
        )?;
        Ok(n == 1)
    }
}

pub(crate) fn user_row(r: &Row, at: usize) -> Result<UserRow> {
    Ok(UserRow {
        id: r.get(at)?,
        username: r.get(at + 1)?,
        password_hash: r.get(at + 2)?,
        role: r.get(at + 3)?,
        unit: r.get(at + 4)?,
        display_name: r.get(at + 5)?,
        disabled: r.get(at + 6)?,
    })
}

pub(crate) const USER_COLS: &str =
    "u.id, u.username, u.password_hash, u.role, u.unit, u.display_name, u.disabled";
