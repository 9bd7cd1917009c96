//! Custom types: instants cross the boundary as the platform's time type (Kotlin `Instant`,
//! Swift `Date`, Python `datetime`), calendar dates as `YYYY-MM-DD` strings.

/// An instant (`chrono::DateTime<Utc>`).
pub type Timestamp = chrono::DateTime<chrono::Utc>;
/// A calendar date (`chrono::NaiveDate`).
pub type Date = chrono::NaiveDate;

uniffi::custom_type!(Timestamp, std::time::SystemTime, { remote });

uniffi::custom_type!(Date, String, {
    remote,
    lower: |d| d.format("%Y-%m-%d").to_string(),
    try_lift: |s| Ok(s.parse::<chrono::NaiveDate>()?),
});
